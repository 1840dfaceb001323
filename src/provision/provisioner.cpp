// Provisioning: steps in order, output streamed line by line with the VM's
// name in front, everything also appended to provision.log.
#include "provision/provisioner.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "os/files.hpp"
#include "os/unique_fd.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::provision {
namespace fs = std::filesystem;
namespace {

std::string single_line(const std::string& text) {
  const auto newline = text.find('\n');
  return newline == std::string::npos ? text : text.substr(0, newline) + " …";
}

// Single quotes for the remote shell.
std::string quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:03}Z", text, ms);
}

// provision.log; opened once, appended to line by line. A log that cannot be
// written must not hide the provisioning result, so write errors are ignored
// after the file opened.
class Log {
 public:
  explicit Log(const fs::path& path) {
    if (path.empty()) return;
    fd_ = os::UniqueFd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (fd_.get() < 0) {
      throw Error(errc::provision_failed,
                  fmt::format("cannot open the provisioning log {}: {}", path.string(), std::strerror(errno)),
                  "check that the VM's folder exists and is writable");
    }
  }
  void write(std::string_view text) {
    if (fd_.get() >= 0) os::write_fully(fd_.get(), fmt::format("{} {}\n", timestamp(), text));
  }

 private:
  os::UniqueFd fd_;
};

// Cuts a stream's chunks into complete lines.
class LineSplitter {
 public:
  explicit LineSplitter(std::function<void(std::string_view)> emit) : emit_(std::move(emit)) {}
  void feed(std::string_view chunk) {
    buffer_.append(chunk);
    std::size_t start = 0;
    for (auto newline = buffer_.find('\n'); newline != std::string::npos; newline = buffer_.find('\n', start)) {
      line(std::string_view(buffer_).substr(start, newline - start));
      start = newline + 1;
    }
    buffer_.erase(0, start);
  }
  void flush() {
    if (!buffer_.empty()) line(buffer_);
    buffer_.clear();
  }

 private:
  void line(std::string_view text) {
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    emit_(text);
  }
  std::function<void(std::string_view)> emit_;
  std::string buffer_;
};

class Runner {
 public:
  Runner(ssh::Session& session, const RunOptions& options, std::size_t count)
      : session_(session), options_(options), log_(options.log_path), count_(count) {}

  void run(std::size_t number, const Step& step) {
    number_ = number;
    const std::string description = describe(step);
    log_.write(fmt::format("step {}/{} start: {}", number, count_, description));
    int status = 0;
    try {
      status = std::visit([this](const auto& s) { return execute(s); }, step);
    } catch (const Error& error) {
      log_.write(fmt::format("step {}/{} failed: {}", number, count_, error.message()));
      throw Error(errc::provision_failed,
                  fmt::format("provisioning step {} ({}) failed: {}", number, description, error.message()),
                  error.help());
    }
    log_.write(fmt::format("step {}/{} exit status {}", number, count_, status));
    if (status != 0) {
      throw Error(errc::provision_failed,
                  fmt::format("provisioning step {} ({}) failed with exit status {}", number, description, status),
                  fmt::format("the step's output is above and in {}; fix the step and provision again",
                              options_.log_path.empty() ? std::string("the log") : options_.log_path.string()));
    }
  }

 private:
  int execute(const ShellInline& step) { return shell(step.command); }

  // The script goes into a folder the guest makes with mktemp -d: private to
  // the login user and unguessable, so nobody else on the guest can swap it.
  int execute(const ShellScript& step) {
    const std::string folder = make_remote_folder();
    const std::string remote = folder + "/" + step.script.filename().string();
    int status = 0;
    try {
      session_.upload(step.script, remote, ssh::TransferOptions{0700, false});
      status = shell(quote(remote));
    } catch (...) {
      remove_quietly(folder);
      throw;
    }
    remove_quietly(folder);
    return status;
  }

  std::string make_remote_folder() {
    const ssh::ExecResult made =
        session_.exec_capture("mktemp -d /tmp/vmctl-provision.XXXXXXXX", std::chrono::seconds(30));
    const std::string folder = made.out.substr(0, made.out.find('\n'));
    if (made.exit_status != 0 || folder.empty()) {
      throw Error(errc::ssh_exec_failed,
                  fmt::format("cannot make a folder for the script in the guest: mktemp -d exited with {}: {}",
                              made.exit_status, single_line(made.err)),
                  "the guest's /tmp must be writable by the login user");
    }
    return folder;
  }

  int execute(const FileCopy& step) {
    session_.upload(step.source, step.destination);
    return 0;
  }

  // A leftover script in /tmp is harmless; it must not replace the step's own error.
  void remove_quietly(const std::string& remote) {
    try {
      session_.exec_capture("rm -rf " + quote(remote), std::chrono::seconds(30));
    } catch (const Error& error) {
      log_.write(fmt::format("step {}/{} could not remove {}: {}", number_, count_, remote, error.message()));
    }
  }

  int shell(const std::string& command) {
    LineSplitter out([this](std::string_view line) { emit("out", line); });
    LineSplitter err([this](std::string_view line) { emit("err", line); });
    const int status = session_.exec(
        command, [&](std::string_view chunk) { out.feed(chunk); }, [&](std::string_view chunk) { err.feed(chunk); });
    out.flush();
    err.flush();
    return status;
  }

  void emit(std::string_view stream, std::string_view line) {
    log_.write(fmt::format("step {}/{} {}: {}", number_, count_, stream, line));
    if (!options_.print) return;
    options_.print(options_.vm_name.empty() ? std::string(line) : fmt::format("{} | {}", options_.vm_name, line));
  }

  ssh::Session& session_;
  const RunOptions& options_;
  Log log_;
  std::size_t count_;
  std::size_t number_ = 0;
};

}  // namespace

std::string describe(const Step& step) {
  struct Describe {
    std::string operator()(const ShellInline& s) const { return "shell inline: " + single_line(s.command); }
    std::string operator()(const ShellScript& s) const { return "shell script: " + s.script.string(); }
    std::string operator()(const FileCopy& s) const {
      return fmt::format("file: {} -> {}", s.source.string(), s.destination);
    }
  };
  return std::visit(Describe{}, step);
}

void run(ssh::Session& session, const std::vector<Step>& steps, const RunOptions& options) {
  Runner runner(session, options, steps.size());
  for (std::size_t i = 0; i < steps.size(); ++i) runner.run(i + 1, steps[i]);
}

}  // namespace vm_manager::provision
