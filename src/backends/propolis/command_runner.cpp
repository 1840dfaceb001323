#include "backends/propolis/command_runner.hpp"

namespace vm_manager::propolis {
namespace {

class SystemCommandRunner final : public CommandRunner {
 public:
  os::ProcessOutput run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) override {
    return os::run_process(argv, timeout);
  }
};

}  // namespace

std::unique_ptr<CommandRunner> system_command_runner() { return std::make_unique<SystemCommandRunner>(); }

}  // namespace vm_manager::propolis
