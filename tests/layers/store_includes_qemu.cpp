// Layering probe (must NOT compile): the store sits below the backends.
#include "backends/qemu/qemu_backend.hpp"
