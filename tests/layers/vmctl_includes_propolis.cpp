// Layering probe (must NOT compile): the CLI reaches the backends only
// through the router, which keeps them private.
#include "backends/propolis/propolis_client.hpp"
