// QMP commands that run as background jobs (snapshot-save, snapshot-load,
// snapshot-delete): started with a job id, then followed through their
// JOB_STATUS_CHANGE events until they conclude, their error read from
// query-jobs and the job dismissed.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "backends/qemu/qmp_client.hpp"

namespace vm_manager::qemu {

// Runs `command` with `arguments` plus "job-id": `job_id` over `qmp` and
// waits until the job concludes, at most `deadline`. Raises
// snapshot::failed with QEMU's error when the job failed or QEMU refused to
// start it, and when it has not concluded by the deadline or QEMU went away.
void run_qmp_job(QmpClient& qmp, std::string_view command, nlohmann::json arguments, const std::string& job_id,
                 std::chrono::milliseconds deadline);

}  // namespace vm_manager::qemu
