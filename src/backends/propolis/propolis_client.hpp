// A client for the propolis-server HTTP API (version 5.0.0) over net/.
// Every request names the API version; every non-2xx answer becomes a
// vm_manager::Error whose code says what kind of failure it was and whose
// message says what the server said. A server that refuses 5.0.0 is
// propolis_version_mismatch, naming the newest older version it takes,
// found by asking again with each (GET /instance, at most four requests).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace vm_manager::propolis {

inline constexpr const char* kApiVersion = "5.0.0";

// The headers a websocket to the serial console must carry, as every request.
inline std::vector<std::pair<std::string, std::string>> console_headers() { return {{"api-version", kApiVersion}}; }

class PropolisClient {
 public:
  struct MonitorResult {
    std::string state;  // an InstanceState: "Creating", "Running", …
    std::uint64_t gen = 0;
  };

  // address: "host:port" or "[v6]:port". request_timeout bounds every
  // request except the state monitor's long-poll, which has its own.
  PropolisClient(std::string address, std::chrono::milliseconds request_timeout);

  const std::string& address() const { return address_; }

  // PUT /instance. Raises propolis_too_large, without sending anything, when
  // the body is over kMaxRequestBytes; propolis_conflict when the server
  // already has an instance.
  void ensure(const nlohmann::json& request);
  // GET /instance: the InstanceGetResponse.
  nlohmann::json get_instance();
  // PUT /instance/state with "Run", "Stop" or "Reboot".
  void request_state(std::string_view state);
  // GET /instance/state-monitor: answers once the instance's generation is
  // at least `gen`. Raises propolis_timeout when that takes over `timeout`.
  MonitorResult monitor(std::uint64_t gen, std::chrono::milliseconds timeout);
  // Follows the state monitor until the state is one of `wanted`. Failed or
  // Destroyed (unless wanted) raise vm_invalid_state; the deadline raises
  // propolis_timeout.
  // Only states from generation `from_gen` on count (0: the current one too),
  // so a caller that asked for a change sees the state after it.
  MonitorResult wait_for_state(const std::vector<std::string>& wanted, std::chrono::steady_clock::time_point deadline,
                               std::uint64_t from_gen = 0);
  struct SerialHistory {
    std::string data;
    // The offset just past `data` in all the output there ever was: where
    // serial_url_from() continues without a gap or a repeat.
    std::uint64_t last_byte_offset = 0;
  };
  // GET /instance/serial/history: the last `most_recent` bytes of com1's
  // output, or all the server keeps (up to 1 MiB) when not given.
  SerialHistory serial_history(std::optional<std::uint64_t> most_recent);
  // The serial console websocket's URL; it replays the last `most_recent`
  // bytes first when given.
  std::string serial_url(std::optional<std::uint64_t> most_recent) const;
  // The websocket's URL replaying from byte `from_start` on.
  std::string serial_url_from(std::uint64_t from_start) const;

 private:
  struct Response {
    long status = 0;
    std::string body;
  };
  Response perform(std::string_view method, const std::string& target, const std::string* body,
                   std::chrono::milliseconds timeout, std::string_view api_version = kApiVersion) const;
  // Which API version before kApiVersion the server takes, in words ("the
  // newest it takes is 4.0.0"), found by asking with each.
  std::string versions_it_takes() const;
  // perform() and raise for any non-2xx status; returns the body.
  std::string call(std::string_view method, const std::string& target, const std::string* body,
                   std::chrono::milliseconds timeout) const;

  std::string address_;
  std::chrono::milliseconds request_timeout_;
};

}  // namespace vm_manager::propolis
