#include "backends/libvirt/domain_state.hpp"

#include <libvirt/libvirt.h>

#include <gtest/gtest.h>

namespace vm_manager::libvirt {
namespace {

TEST(LibvirtDomainState, MapsEveryState) {
  EXPECT_EQ(vm_state_from(VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_BOOTED), VmState::running);
  EXPECT_EQ(vm_state_from(VIR_DOMAIN_BLOCKED, 0), VmState::running);
  EXPECT_EQ(vm_state_from(VIR_DOMAIN_SHUTDOWN, VIR_DOMAIN_SHUTDOWN_USER), VmState::running);
  EXPECT_EQ(vm_state_from(VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_USER), VmState::suspended);
  EXPECT_EQ(vm_state_from(VIR_DOMAIN_PMSUSPENDED, 0), VmState::suspended);
  EXPECT_EQ(vm_state_from(VIR_DOMAIN_CRASHED, 0), VmState::failed);
  EXPECT_EQ(vm_state_from(VIR_DOMAIN_NOSTATE, 0), VmState::failed);
}

TEST(LibvirtDomainState, ShutOffByReason) {
  EXPECT_EQ(vm_state_from(VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_UNKNOWN), VmState::prepared);
  EXPECT_EQ(vm_state_from(VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_SHUTDOWN), VmState::stopped);
  EXPECT_EQ(vm_state_from(VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_DESTROYED), VmState::stopped);
  EXPECT_EQ(vm_state_from(VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_SAVED), VmState::stopped);
  EXPECT_EQ(vm_state_from(VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_CRASHED), VmState::failed);
  EXPECT_EQ(vm_state_from(VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_FAILED), VmState::failed);
}

TEST(LibvirtDomainState, UnknownStateIsFailedNotRunning) {
  EXPECT_EQ(vm_state_from(99, 0), VmState::failed);
}

}  // namespace
}  // namespace vm_manager::libvirt
