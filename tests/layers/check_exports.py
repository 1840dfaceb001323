#!/usr/bin/env python3
"""Fails when libvm-manager.so exports anything that is not public API.

The public API is what include/vm_manager declares: a symbol is public when it
lies in namespace vm_manager (directly, not in a nested namespace such as
vm_manager::qemu) and names a class, struct or function those headers
declare. Everything else the library holds is built with hidden visibility
and must stay invisible to embedders.

  check_exports.py LIBRARY INCLUDE_DIR     check a built library
  check_exports.py --self-test INCLUDE_DIR the checker refuses internal symbols
"""
import pathlib
import re
import subprocess
import sys

# Symbols the linker itself defines in every shared object.
LINKER_SYMBOLS = {"_init", "_fini", "_edata", "_end", "__bss_start"}
# Prefixes the C++ ABI puts before a class's name.
ABI_PREFIXES = ("typeinfo for ", "typeinfo name for ", "vtable for ", "VTT for ", "non-virtual thunk to ",
                "virtual thunk to ", "guard variable for ")


def public_names(include_dir):
    names = set()
    for header in pathlib.Path(include_dir).glob("*.hpp"):
        text = header.read_text()
        names.update(re.findall(r"\b(?:class|struct|enum class)\s+(?:VM_MANAGER_API\s+)?(\w+)", text))
        names.update(re.findall(r"VM_MANAGER_API\s+[^;{]*?\b(\w+)\s*\(", text))
    names.discard("VM_MANAGER_API")
    return names


def exported_symbols(library):
    out = subprocess.run(["nm", "-D", "--defined-only", "-C", "--format=posix", library],
                         check=True, capture_output=True, text=True).stdout
    # posix format: "<name> <type> <value> [<size>]"; names may hold spaces.
    return [re.sub(r" [A-Za-z] [0-9a-f]*( [0-9a-f]+)?$", "", line) for line in out.splitlines() if line]


def internal(symbols, names):
    bad = []
    for symbol in symbols:
        if symbol in LINKER_SYMBOLS:
            continue
        name = symbol
        for prefix in ABI_PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix):]
        match = re.match(r"vm_manager::(\w+)", name)
        if match is None or match.group(1) not in names:
            bad.append(symbol)
    return bad


def main(argv):
    if len(argv) == 3 and argv[1] == "--self-test":
        names = public_names(argv[2])
        good = ["vm_manager::VmStore::list() const", "typeinfo for vm_manager::Error", "_end"]
        leaks = ["vm_manager::qemu::QemuBackend::start(vm_manager::VmHandle const&)",
                 "vm_manager::os::read_file(std::filesystem::__cxx11::path const&)",
                 "nlohmann::json_abi_v3_11_2::basic_json<>::~basic_json()", "typeinfo for vm_manager::ssh::Session"]
        assert internal(good, names) == [], internal(good, names)
        assert internal(leaks, names) == leaks, internal(leaks, names)
        print("check_exports: the checker accepts public symbols and refuses internal ones")
        return 0
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    symbols = exported_symbols(argv[1])
    bad = internal(symbols, public_names(argv[2]))
    if bad:
        print(f"{argv[1]} exports {len(bad)} internal symbols (of {len(symbols)}):", file=sys.stderr)
        for symbol in bad[:50]:
            print("  " + symbol, file=sys.stderr)
        return 1
    print(f"check_exports: all {len(symbols)} exported symbols are public API")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
