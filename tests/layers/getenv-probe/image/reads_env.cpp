// Not compiled: the tree check-no-getenv.sh must refuse (see CMakeLists.txt).
#include <cstdlib>

bool cache_overridden() { return std::getenv("VMCTL_IMAGE_CACHE") != nullptr; }
