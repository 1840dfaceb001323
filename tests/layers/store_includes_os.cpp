// Layering probe (must compile): the store may use os/ and the public
// headers of the layers below it.
#include "os/files.hpp"
#include "vm_manager/store.hpp"
