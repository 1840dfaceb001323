#include <spdlog/spdlog.h>
void fallback() { spdlog::warn("KVM is not available; using TCG"); }
