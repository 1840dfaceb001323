# The integration tests that also run under ASan/UBSan (make test-asan runs
# -L 'unit|asan'): one or a few cases each that go through the QEMU launch
# (src/backends/qemu/launch.cpp), TAP networking (tap.cpp) and SSH into a
# guest (src/ssh/vm_access.cpp), in the library and through vmctl. Few, to
# keep make check within its budget; the full integration suite runs in the
# normal build. Included by ctest after the GoogleTest discovery, so the
# names exist here; they keep their integration label.
set_tests_properties(
  QemuBackendTest.LifecycleWithAcpiShutdown
  QemuBackendTest.StartFailureQuotesQemu
  QemuBackendTest.ConcurrentStartsGetDistinctPortsAndDisplays
  QemuCliTest.LifecycleThroughVmctl
  TapNetworkTest.TapJoinsTheBridgeAndGuestIpFindsTheGuestByMac
  TapNetworkTest.AQemuThatFailsToStartLeavesNoTap
  TapNetworkTest.AMissingBridgeFailsStartAndLeavesNoTap
  SshCliTest.CreateStartWaitThenSshRunsCommandsWithTheirExitStatus
  SshCliTest.CpRoundTripsAFileWithItsModeAndCreatesFolders
  SshCliTest.AGuestPresentingADifferentHostKeyIsRefused
  PROPERTIES LABELS "integration;asan")
