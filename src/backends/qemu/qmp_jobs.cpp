#include "backends/qemu/qmp_jobs.hpp"

#include <fmt/format.h>

#include "util/printable.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void job_failed(std::string_view command, const std::string& why) {
  throw Error(errc::snapshot_failed, fmt::format("QEMU's {} failed: {}", command, util::printable(why)),
              "see qemu.log in the VM's folder");
}

// Waits for the job's "concluded" status change.
void wait_concluded(QmpClient& qmp, std::string_view command, const std::string& job_id, Clock::time_point until) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0) job_failed(command, fmt::format("job {} did not finish in time", job_id));
    std::optional<QmpEvent> event = qmp.wait_for_event("JOB_STATUS_CHANGE", left);
    if (!event) job_failed(command, fmt::format("job {} did not finish in time, or QEMU closed QMP", job_id));
    if (!event->data.is_object()) continue;
    if (event->data.value("id", std::string()) == job_id && event->data.value("status", std::string()) == "concluded") {
      return;
    }
  }
}

// The job's error from query-jobs, empty when it succeeded.
std::string job_error(QmpClient& qmp, const std::string& job_id) {
  nlohmann::json jobs = qmp.execute("query-jobs");
  if (!jobs.is_array()) return "query-jobs answered no list";
  for (const auto& job : jobs) {
    if (!job.is_object() || job.value("id", std::string()) != job_id) continue;
    auto error = job.find("error");
    return error != job.end() && error->is_string() ? error->get<std::string>() : std::string();
  }
  return fmt::format("job {} is not among QEMU's jobs", job_id);
}

}  // namespace

void run_qmp_job(QmpClient& qmp, std::string_view command, nlohmann::json arguments, const std::string& job_id,
                 std::chrono::milliseconds deadline) {
  const Clock::time_point until = Clock::now() + deadline;
  arguments["job-id"] = job_id;
  try {
    qmp.execute(command, arguments);
  } catch (const Error& e) {
    if (e.code() != errc::qmp_command_failed) throw;
    job_failed(command, e.message());
  }
  wait_concluded(qmp, command, job_id, until);
  std::string error = job_error(qmp, job_id);
  qmp.execute("job-dismiss", {{"id", job_id}});
  if (!error.empty()) job_failed(command, error);
}

}  // namespace vm_manager::qemu
