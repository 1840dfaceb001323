// Not compiled: the tree check-no-vmctl-syntax.py must refuse (see CMakeLists.txt).
#include "vm_manager/error.hpp"

void refuse() {
  throw vm_manager::Error(vm_manager::errc::data_dir_invalid, "no data dir", "pass --data-dir DIR");
}
