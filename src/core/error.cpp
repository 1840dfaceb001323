#include "vm_manager/error.hpp"

namespace vm_manager {

Error::Error(std::string_view code, std::string message, std::string help)
    : std::runtime_error(message), code_(code), message_(std::move(message)), help_(std::move(help)) {}

}  // namespace vm_manager
