// fmt's and spdlog's compiled code, built into vmctl itself instead of loaded
// from libfmt.so and libspdlog.so: every shared C++ library costs the dynamic
// loader a mapping and its relocations at each start (~0.2 ms for these two,
// of a start meant to take ~1 ms). The packages' headers, used as everywhere
// else in their compiled-library mode (FMT_SHARED, SPDLOG_COMPILED_LIB),
// declare what their shared libraries define; this file defines it from
// their -inl.h sources, as those libraries' own sources do. vmctl's objects
// come first on its link line, so with -Wl,--as-needed neither .so is
// recorded as needed (tests/vmctl/check_needed_libraries.cmake checks that).
#ifndef SPDLOG_COMPILED_LIB
#error "spdlog's headers must be in their compiled-library mode, as the package builds them"
#endif

#include <mutex>
#include <string>

#include <fmt/format-inl.h>

#include <spdlog/common-inl.h>
#include <spdlog/details/backtracer-inl.h>
#include <spdlog/details/log_msg-inl.h>
#include <spdlog/details/log_msg_buffer-inl.h>
#include <spdlog/details/null_mutex.h>
#include <spdlog/details/os-inl.h>
#include <spdlog/details/periodic_worker-inl.h>
#include <spdlog/details/registry-inl.h>
#include <spdlog/logger-inl.h>
#include <spdlog/pattern_formatter-inl.h>
#include <spdlog/sinks/ansicolor_sink-inl.h>
#include <spdlog/sinks/base_sink-inl.h>
#include <spdlog/sinks/sink-inl.h>
#include <spdlog/sinks/stdout_color_sinks-inl.h>
#include <spdlog/spdlog-inl.h>

// What fmt's format.h declares `extern template` for char.
FMT_BEGIN_NAMESPACE
namespace detail {
template FMT_API auto dragonbox::to_decimal(float x) noexcept -> dragonbox::decimal_fp<float>;
template FMT_API auto dragonbox::to_decimal(double x) noexcept -> dragonbox::decimal_fp<double>;
template FMT_API locale_ref::locale_ref(const std::locale& loc);
template FMT_API auto locale_ref::get<std::locale>() const -> std::locale;
template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
template FMT_API void buffer<char>::append(const char*, const char*);
template FMT_API void vformat_to(buffer<char>&, string_view, basic_format_args<FMT_BUFFER_CONTEXT(char)>,
                                 locale_ref);
}  // namespace detail
FMT_END_NAMESPACE

// What spdlog's headers declare and vmctl uses: the logger, its sinks'
// bases and the stderr colour logger (main.cpp).
template class SPDLOG_API spdlog::sinks::base_sink<std::mutex>;
template class SPDLOG_API spdlog::sinks::base_sink<spdlog::details::null_mutex>;
template class SPDLOG_API spdlog::sinks::ansicolor_sink<spdlog::details::console_mutex>;
template class SPDLOG_API spdlog::sinks::ansicolor_stderr_sink<spdlog::details::console_mutex>;
template SPDLOG_API std::shared_ptr<spdlog::logger> spdlog::stderr_color_mt<spdlog::synchronous_factory>(
    const std::string& logger_name, color_mode mode);
