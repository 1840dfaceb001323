// VM_MANAGER_API marks what libvm-manager.so exports. The library is built
// with hidden visibility, so everything else stays internal: embedders see
// only the declarations under include/vm_manager, and the library is free to
// change the rest.
#pragma once

#define VM_MANAGER_API __attribute__((visibility("default")))
