// Everything an embedding program needs.
#pragma once

#include "vm_manager/backend_registry.hpp"
#include "vm_manager/data_dir.hpp"
#include "vm_manager/environment.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/hypervisor.hpp"
#include "vm_manager/json.hpp"
#include "vm_manager/log.hpp"
#include "vm_manager/manager.hpp"
#include "vm_manager/names.hpp"
#include "vm_manager/noop_backend.hpp"
#include "vm_manager/progress.hpp"
#include "vm_manager/router.hpp"
#include "vm_manager/spec_check.hpp"
#include "vm_manager/store.hpp"
#include "vm_manager/types.hpp"
#include "vm_manager/version.hpp"
