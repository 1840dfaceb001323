// Layering probe (must NOT compile): a public header of a higher layer is
// invisible to core.
#include "vm_manager/store.hpp"
