// VmStore: records on disk, create/remove, list, and concurrent creates.
#include "vm_manager/store.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "os/files.hpp"
#include "support/child.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/json.hpp"
#include "vm_manager/noop_backend.hpp"

namespace vm_manager {

[[maybe_unused]] static void PrintTo(const VmRecord& r, std::ostream* os) {
  *os << nlohmann::json{{"handle", r.handle}, {"spec", r.spec}, {"created_at", r.created_at}}.dump();
}

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using vmctl::test::TempDir;
using nlohmann::json;

VmSpec spec_named(const std::string& name) {
  VmSpec spec;
  spec.name = name;
  spec.image_path = "/images/base.qcow2";
  spec.vcpus = 2;
  spec.memory_mb = 2048;
  return spec;
}

mode_t mode_of(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

template <typename F>
std::string error_code_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_FALSE(e.help().empty()) << e.code() << ": " << e.message();
    EXPECT_EQ(e.message().find('\n'), std::string::npos) << e.message();
    return e.code();
  } catch (const std::exception& e) {
    return std::string("non-Error exception: ") + e.what();
  }
  return "no error";
}

using vmctl::test::Child;

constexpr const char* kUuid = "2f1b9c4e-7d3a-4e5f-9a8b-0c1d2e3f4a5b";

class Store : public ::testing::Test {
 protected:
  // The handle fields a record needs to load as web's: its name, work dir
  // and a UUID (RecordIdentity tests what else fails).
  std::string web_identity() const {
    return R"("name":"web","id":")" + std::string(kUuid) + R"(","work_dir":")" + data.vm_dir("web").string() + "\"";
  }

  void SetUp() override { old_umask_ = ::umask(022); }
  void TearDown() override { ::umask(old_umask_); }

  // Creates a VM through the noop backend, as vmctl does.
  VmRecord create(const std::string& name) {
    VmLock lock = store.lock(name);
    return store.create(lock, spec_named(name), [&](const VmSpec& s) { return backend.prepare(s); });
  }

  TempDir temp;
  DataDir data{temp / "data"};
  VmStore store{data, [] {
                  LockOptions o;
                  o.timeout = 5s;
                  return o;
                }()};
  NoopBackend backend{data};

 private:
  mode_t old_umask_ = 0;
};

TEST_F(Store, SaveLoadRoundTrip) {
  VmRecord created = create("web");
  EXPECT_EQ(store.load("web"), created);
  EXPECT_EQ(created.handle.name, "web");
  EXPECT_EQ(created.handle.backend, std::string("noop"));
  EXPECT_EQ(created.spec, spec_named("web"));
  EXPECT_EQ(created.created_at.size(), 20u) << created.created_at;  // 2024-01-02T03:04:05Z
  EXPECT_EQ(created.created_at.back(), 'Z');

  VmRecord changed = created;
  changed.handle.backend_state = BackendState{1, {{"pid", 4242}, {"pid_start_time", 123456789}}};
  changed.handle.network = TapNetwork{"br0"};
  changed.handle.ssh_port = 2222;
  changed.spec.cloud_init = CloudInitConfig{std::string("\0\xff\x01", 3), "iid", "web"};
  changed.spec.ssh = SshConfig{"root", "ssh-ed25519 AAAA", "/k"};
  changed.created_at = "2001-02-03T04:05:06Z";
  {
    VmLock lock = store.lock("web");
    store.save(lock, changed);
  }
  EXPECT_EQ(store.load("web"), changed);
  EXPECT_TRUE(store.exists("web"));
}

TEST_F(Store, SaveUnderAnotherVmsLockIsRefused) {
  create("web");
  create("db");
  VmRecord web = store.load("web");
  VmLock db_lock = store.lock("db");
  EXPECT_EQ(error_code_of([&] { store.save(db_lock, web); }), errc::store_io);
  EXPECT_EQ(store.load("db").handle.name, "db");
}

TEST_F(Store, LoadOfMissingVm) {
  EXPECT_EQ(error_code_of([&] { store.load("nothing"); }), errc::vm_not_found);
  data.ensure_exists();
  EXPECT_EQ(error_code_of([&] { store.load("nothing"); }), errc::vm_not_found);
  fs::create_directories(data.vm_dir("half"));  // a folder without vm.json
  EXPECT_EQ(error_code_of([&] { store.load("half"); }), errc::vm_not_found);
  EXPECT_FALSE(store.exists("nothing"));
  EXPECT_FALSE(store.exists("half"));
}

TEST_F(Store, InvalidNames) {
  for (std::string bad : {"", "..", "a/b", "../data"}) {
    EXPECT_EQ(error_code_of([&] { store.load(bad); }), errc::vm_invalid_name) << bad;
    EXPECT_EQ(error_code_of([&] { store.exists(bad); }), errc::vm_invalid_name) << bad;
    EXPECT_EQ(error_code_of([&] { store.lock(bad); }), errc::vm_invalid_name) << bad;
  }
}

TEST_F(Store, CorruptRecord) {
  create("web");
  const fs::path file = data.vm_file("web");
  for (std::string text : {std::string(""), std::string("{"), std::string("{not json}"), std::string("[]"),
                           std::string("null"), std::string("{}"), std::string("\0\0\0", 3),
                           std::string(R"({"format":1,"handle":{"name":"web","vcpus":"many"}})"),
                           std::string(R"({"format":1,"handle":{"name":"web","backend":"VMware 7"}})"),  // no backend id
                           std::string(R"({"format":1,"handle":{"name":"web"},"spec":{"memory_mb":"x"}})")}) {
    SCOPED_TRACE(text);
    write_text(file, text);
    EXPECT_EQ(error_code_of([&] { store.load("web"); }), errc::store_corrupt);
    // list() still shows the VM, with the problem.
    auto entries = store.list();
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].name, "web");
    EXPECT_FALSE(entries[0].record.has_value());
    EXPECT_EQ(entries[0].state_without_record, VmState::failed);
    EXPECT_FALSE(entries[0].problem.empty());
  }
  // The truncated tail of a real record.
  VmLock lock = store.lock("web");
  VmRecord record;
  record.handle.name = "web";
  store.save(lock, record);
  std::string good = *os::read_file(file);
  write_text(file, good.substr(0, good.size() / 2));
  EXPECT_EQ(error_code_of([&] { store.load("web"); }), errc::store_corrupt);
}

// vm.json whose "handle" (or "spec", "network", ...) is not an object is as
// corrupt as one whose "vcpus" is a string.
TEST_F(Store, RecordOfTheWrongShapeIsCorrupt) {
  create("web");
  for (std::string text : {std::string(R"({"format":1,"handle":"web"})"), std::string(R"({"format":1,"handle":[1,2]})"),
                           std::string(R"({"format":1,"handle":{"name":"web","network":"tap"}})"),
                           std::string(R"({"format":1,"handle":{"name":"web"},"spec":42})")}) {
    SCOPED_TRACE(text);
    write_text(data.vm_file("web"), text);
    EXPECT_EQ(error_code_of([&] { store.load("web"); }), errc::store_corrupt);
  }
}

// A record from a newer release is refused, never read as far as it goes
// (its next save would lose what this release does not know); a "format"
// that is no format at all is corruption.
TEST_F(Store, RecordFormatIsChecked) {
  create("web");
  write_text(data.vm_file("web"), R"({"format":3,"handle":{)" + web_identity() + R"(,"backend":"noop"}})");
  try {
    store.load("web");
    FAIL() << "a format 3 record was read";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::store_unsupported_format);
    EXPECT_NE(e.message().find("record format 3"), std::string::npos) << e.message();
    EXPECT_FALSE(e.help().empty());
  }
  ASSERT_EQ(store.list().size(), 1u);
  EXPECT_NE(store.list()[0].problem.find("record format 3"), std::string::npos);
  for (std::string format : {"\"1\"", "0", "-3", "1.5", "null"}) {
    SCOPED_TRACE(format);
    write_text(data.vm_file("web"), R"({"format":)" + format + R"(,"handle":{)" + web_identity() + R"(,"backend":"noop"}})");
    EXPECT_EQ(error_code_of([&] { store.load("web"); }), errc::store_corrupt);
  }
  // Today's format, the previous one, and a record without the field (which
  // the first releases wrote: format 1).
  write_text(data.vm_file("web"), R"({"format":2,"handle":{)" + web_identity() + R"(,"backend":"noop"}})");
  EXPECT_EQ(store.load("web").handle.name, "web");
  write_text(data.vm_file("web"), R"({"format":1,"handle":{)" + web_identity() + R"(,"backend":"noop"}})");
  EXPECT_EQ(store.load("web").handle.name, "web");
  write_text(data.vm_file("web"), R"({"handle":{)" + web_identity() + R"(,"backend":"noop","pid":7}})");
  EXPECT_EQ(store.load("web").handle.backend_state, (BackendState{1, {{"pid", 7}}}));
}

// A format-1 record (tests/store/fixtures/format-1/, as the previous release
// wrote it) loads with each backend's flat fields moved, unchanged, into
// backend_state at version 1 and propolis_api into backend_options; the next
// save writes format 2, which loads back the same.
class StoreFormat1 : public Store, public ::testing::WithParamInterface<const char*> {};

TEST_P(StoreFormat1, MigratesAndIsRewrittenAsFormat2) {
  const std::string file = std::string(GetParam()) + ".vm.json";
  std::ifstream in(fs::path(VMCTL_SOURCE_DIR) / "tests/store/fixtures/format-1" / file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (auto at = text.find("@DATA_DIR@"); at != std::string::npos; at = text.find("@DATA_DIR@", at)) {
    text.replace(at, 10, (temp / "data").string());
  }
  const json old = json::parse(text);
  const std::string name = old.at("handle").at("name");
  fs::create_directories(data.vm_dir(name));
  write_text(data.vm_file(name), old.dump());

  VmRecord record = store.load(name);
  const json& old_handle = old.at("handle");
  EXPECT_EQ(record.handle.backend, old_handle.at("backend"));
  EXPECT_EQ(record.handle.work_dir, old_handle.at("work_dir"));
  EXPECT_EQ(record.handle.ssh_user, old_handle.at("ssh_user"));
  EXPECT_EQ(record.handle.seed_iso_path, old_handle.value("seed_iso_path", ""));
  EXPECT_EQ(record.handle.console_log, old_handle.value("console_log", ""));
  EXPECT_EQ(record.handle.backend_state.version, 1);
  const json shared = VmHandle{};
  for (const auto& [key, value] : old_handle.items()) {
    if (shared.contains(key)) {
      EXPECT_FALSE(record.handle.backend_state.data.contains(key)) << key;
    } else {
      EXPECT_EQ(record.handle.backend_state.data.at(key), value) << key;
    }
  }
  const json& old_spec = old.at("spec");
  if (!old_spec.at("propolis_api").is_null()) {
    EXPECT_EQ(record.spec.backend_options, (std::map<std::string, std::string>{{"propolis_api", old_spec.at("propolis_api")}}));
  } else {
    EXPECT_TRUE(record.spec.backend_options.empty());
  }
  EXPECT_EQ(record.created_at, old.at("created_at"));

  {
    VmLock lock = store.lock(name);
    store.save(lock, record);
  }
  const json now = json::parse(*os::read_file(data.vm_file(name)));
  EXPECT_EQ(now.at("format"), 2);
  EXPECT_FALSE(now.at("handle").contains("pid"));
  EXPECT_FALSE(now.at("spec").contains("propolis_api"));
  EXPECT_EQ(now.at("handle").at("backend_state").at("version"), 1);
  EXPECT_EQ(store.load(name), record);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, StoreFormat1, ::testing::Values("noop", "qemu", "propolis"));

// What salvage() hands destroy_remains: the backend_state of either format.
TEST_F(Store, SalvageKeepsTheBackendStateOfEitherFormat) {
  create("web");
  write_text(data.vm_file("web"), R"({"format":1,"handle":{"id":")" + std::string(kUuid) +
                                      R"(","backend":"qemu","pid":42,"vcpus":"many"}})");
  VmHandle remains = store.salvage("web");
  EXPECT_EQ(remains.id, kUuid);
  EXPECT_EQ(remains.backend, "qemu");
  EXPECT_EQ(remains.backend_state.data.at("pid"), 42);
  write_text(data.vm_file("web"),
             R"({"format":2,"handle":{"id":"y","vcpus":"many","backend_state":{"version":1,"data":{"pid":43}}}})");
  remains = store.salvage("web");
  EXPECT_EQ(remains.id, "") << "an id that is no UUID may not become part of a path";
  EXPECT_EQ(remains.backend_state, (BackendState{1, {{"pid", 43}}}));
  EXPECT_EQ(remains.work_dir, data.vm_dir("web").string());
}

TEST_F(Store, CreateRefusesAnExistingName) {
  VmRecord first = create("web");
  int calls = 0;
  VmLock lock = store.lock("web");
  EXPECT_EQ(error_code_of([&] {
              store.create(lock, spec_named("web"), [&](const VmSpec& s) {
                calls += 1;
                return backend.prepare(s);
              });
            }),
            errc::vm_already_exists);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(store.load("web"), first);
  EXPECT_EQ(backend.state(first.handle), VmState::prepared);
}

TEST_F(Store, CreateClearsAFolderWithoutRecord) {
  data.ensure_exists();
  fs::create_directories(data.vm_dir("web") / "sub");
  write_text(data.vm_dir("web") / "disk.qcow2", "leftover");
  write_text(data.vm_dir("web") / "sub" / "x", "leftover");
  VmRecord record = create("web");
  EXPECT_FALSE(fs::exists(data.vm_dir("web") / "disk.qcow2"));
  EXPECT_FALSE(fs::exists(data.vm_dir("web") / "sub"));
  EXPECT_EQ(store.load("web"), record);
  EXPECT_EQ(backend.state(record.handle), VmState::prepared);
}

TEST_F(Store, CreateWhosePrepareThrowsLeavesNothing) {
  VmLock lock = store.lock("web");
  EXPECT_THROW(store.create(lock, spec_named("web"),
                            [&](const VmSpec& s) -> VmHandle {
                              backend.prepare(s);  // made the work dir and its state
                              write_text(data.vm_dir("web") / "disk.qcow2", "partial");
                              throw std::runtime_error("qemu-img failed");
                            }),
               std::runtime_error);
  EXPECT_FALSE(fs::exists(fs::symlink_status(data.vm_dir("web"))));
  EXPECT_FALSE(store.exists("web"));
  EXPECT_TRUE(store.list().empty());

  // An Error from prepare passes through unchanged, too.
  EXPECT_EQ(error_code_of([&] {
              store.create(lock, spec_named("web"), [&](const VmSpec& s) -> VmHandle {
                fs::create_directories(data.vm_dir(s.name));
                throw Error(errc::spec_invalid, "no such image", "pass --image");
              });
            }),
            errc::spec_invalid);
  EXPECT_FALSE(fs::exists(data.vm_dir("web")));

  // A handle for another name is a bug, and leaves nothing either.
  EXPECT_EQ(error_code_of([&] {
              store.create(lock, spec_named("web"), [&](const VmSpec& s) {
                VmHandle h = backend.prepare(s);
                h.name = "other";
                return h;
              });
            }),
            errc::store_io);
  EXPECT_FALSE(fs::exists(data.vm_dir("web")));
  EXPECT_TRUE(store.list().empty());

  // The name is free afterwards.
  VmRecord record = store.create(lock, spec_named("web"), [&](const VmSpec& s) { return backend.prepare(s); });
  EXPECT_EQ(store.load("web"), record);
}

TEST_F(Store, CreateNeedsTheVmsOwnLock) {
  VmLock other = store.lock("other");
  EXPECT_EQ(error_code_of([&] {
              store.create(other, spec_named("web"), [&](const VmSpec& s) { return backend.prepare(s); });
            }),
            errc::store_io);
  EXPECT_FALSE(fs::exists(data.vm_dir("web")));
}

TEST_F(Store, ConcurrentCreateOfOneName) {
  data.ensure_exists();
  // Children wait until the parent closes the write end, then all start.
  int gate[2];
  ASSERT_EQ(::pipe2(gate, O_CLOEXEC), 0);
  std::vector<std::unique_ptr<Child>> children;
  for (int i = 0; i < 8; ++i) {
    children.push_back(std::make_unique<Child>([&] {
      ::close(gate[1]);
      char c;
      while (::read(gate[0], &c, 1) < 0 && errno == EINTR) {
      }
      LockOptions o;
      o.timeout = 20s;
      VmStore own_store(DataDir(data.root()), o);
      NoopBackend own_backend(DataDir(data.root()));
      try {
        VmLock lock = own_store.lock("same");
        own_store.create(lock, spec_named("same"), [&](const VmSpec& s) { return own_backend.prepare(s); });
        return 0;
      } catch (const Error& e) {
        return e.code() == errc::vm_already_exists ? 1 : 2;
      }
    }));
  }
  ::close(gate[0]);
  ::close(gate[1]);  // go
  int succeeded = 0;
  int refused = 0;
  for (auto& child : children) {
    int code = child->wait();
    if (code == 0) succeeded += 1;
    if (code == 1) refused += 1;
    EXPECT_TRUE(code == 0 || code == 1) << "a child ended with " << code;
  }
  EXPECT_EQ(succeeded, 1);
  EXPECT_EQ(refused, 7);

  VmRecord record = store.load("same");
  EXPECT_EQ(record.handle.name, "same");
  EXPECT_EQ(record.spec, spec_named("same"));
  EXPECT_EQ(backend.state(record.handle), VmState::prepared);
  auto entries = store.list();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].name, "same");
  ASSERT_TRUE(entries[0].record.has_value());
  EXPECT_EQ(*entries[0].record, record);
  // Nothing else was left in the VM's folder but its record and backend state.
  for (const auto& entry : fs::directory_iterator(data.vm_dir("same"))) {
    std::string name = entry.path().filename().string();
    EXPECT_TRUE(name == "vm.json" || name == "noop-state") << name;
  }
}

TEST_F(Store, ListIsSorted) {
  for (std::string name : {"web", "db", "Zeta", "9lives", "cache", "a.b"}) create(name);
  auto entries = store.list();
  std::vector<std::string> names;
  for (const auto& e : entries) {
    names.push_back(e.name);
    ASSERT_TRUE(e.record.has_value()) << e.name << ": " << e.problem;
    EXPECT_EQ(e.record->handle.name, e.name);
    EXPECT_TRUE(e.problem.empty());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"9lives", "Zeta", "a.b", "cache", "db", "web"}));
}

TEST_F(Store, ListOfAnEmptyOrMissingDataDir) {
  EXPECT_TRUE(store.list().empty());
  EXPECT_FALSE(fs::exists(data.root()));  // list() creates nothing
  data.ensure_exists();
  EXPECT_TRUE(store.list().empty());
}

TEST_F(Store, ListShowsAFolderWithoutRecordAsFailed) {
  create("ok");
  fs::create_directories(data.vm_dir("ghost"));
  auto entries = store.list();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].name, "ghost");
  EXPECT_FALSE(entries[0].record.has_value());
  EXPECT_EQ(entries[0].state_without_record, VmState::failed);
  EXPECT_FALSE(entries[0].problem.empty());
  EXPECT_EQ(entries[1].name, "ok");
  EXPECT_TRUE(entries[1].record.has_value());
}

TEST_F(Store, ListShowsAFolderWithoutRecordAsPreparingWhileLocked) {
  data.ensure_exists();
  fs::create_directories(data.vm_dir("ghost"));
  int ready[2];
  int done[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(done, O_CLOEXEC), 0);
  Child child([&] {
    ::close(ready[0]);
    ::close(done[1]);
    VmLock lock = VmStore(DataDir(data.root())).lock("ghost");
    char c = 'L';
    if (::write(ready[1], &c, 1) != 1) return 1;
    while (::read(done[0], &c, 1) < 0 && errno == EINTR) {  // until EOF
    }
    return 0;
  });
  ::close(ready[1]);
  ::close(done[0]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);

  auto entries = store.list();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].name, "ghost");
  EXPECT_FALSE(entries[0].record.has_value());
  EXPECT_EQ(entries[0].state_without_record, VmState::preparing);
  EXPECT_FALSE(entries[0].problem.empty());

  ::close(done[1]);  // let the child go
  EXPECT_EQ(child.wait(), 0);
  entries = store.list();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].state_without_record, VmState::failed);
}

TEST_F(Store, ListSkipsInvalidNamesAndFiles) {
  create("web");
  const fs::path vms = data.vms_dir();
  fs::create_directories(vms / ".hidden");
  fs::create_directories(vms / "-dash");
  fs::create_directories(vms / "_under");
  fs::create_directories(vms / "a b");
  fs::create_directories(vms / "caf\xc3\xa9");
  fs::create_directories(vms / std::string(64, 'x'));
  write_text(vms / "stray", "a file, not a VM");
  write_text(vms / "web.tmp-123-0", "temp");
  write_text(vms / "vm.json.tmp-1-2", "temp");
  write_text(data.vm_dir("web") / "vm.json.tmp-99-0", "a temp file inside a VM");
  auto entries = store.list();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].name, "web");
  EXPECT_TRUE(entries[0].record.has_value());
}

TEST_F(Store, FilesAndFoldersArePrivate) {
  VmRecord record = create("web");
  EXPECT_EQ(mode_of(data.root()), 0700u);
  EXPECT_EQ(mode_of(data.vms_dir()), 0700u);
  EXPECT_EQ(mode_of(data.locks_dir()), 0700u);
  EXPECT_EQ(mode_of(data.vm_dir("web")), 0700u);
  EXPECT_EQ(mode_of(data.vm_file("web")), 0600u);
  EXPECT_EQ(mode_of(data.lock_file("web")), 0600u);
  {
    VmLock lock = store.lock("web");
    store.save(lock, record);
  }
  EXPECT_EQ(mode_of(data.vm_file("web")), 0600u);  // after a replace, too
}

TEST_F(Store, CreateMakesTheFolderWhenPrepareDidNot) {
  VmLock lock = store.lock("web");
  data.ensure_exists();
  VmRecord record = store.create(lock, spec_named("web"), [&](const VmSpec& s) {
    VmHandle h;
    h.name = s.name;
    h.id = kUuid;
    h.work_dir = data.vm_dir(s.name).string();
    return h;
  });
  EXPECT_EQ(mode_of(data.vm_dir("web")), 0700u);
  EXPECT_EQ(store.load("web"), record);
}

TEST_F(Store, RecordFileFormat) {
  VmRecord record = create("web");
  auto j = nlohmann::json::parse(*os::read_file(data.vm_file("web")));
  EXPECT_EQ(j.at("format"), 2);
  EXPECT_EQ(j.at("created_at"), record.created_at);
  EXPECT_EQ(j.at("handle").get<VmHandle>(), record.handle);
  EXPECT_EQ(j.at("spec").get<VmSpec>(), record.spec);
}

TEST_F(Store, OlderRecordWithoutSpecLoads) {
  create("web");
  write_text(data.vm_file("web"), R"({"handle":{)" + web_identity() + R"(,"backend":"noop"}})");
  VmRecord record = store.load("web");
  EXPECT_EQ(record.handle.name, "web");
  EXPECT_EQ(record.handle.work_dir, data.vm_dir("web").string());
  EXPECT_EQ(record.spec, VmSpec{});
  EXPECT_EQ(record.created_at, "");
}

TEST_F(Store, RemoveForgetsTheVm) {
  VmRecord record = create("web");
  create("db");
  store.remove(store.lock("web"));
  EXPECT_FALSE(fs::exists(data.vm_dir("web")));
  EXPECT_FALSE(fs::exists(data.lock_file("web")));
  EXPECT_FALSE(store.exists("web"));
  EXPECT_EQ(error_code_of([&] { store.load("web"); }), errc::vm_not_found);
  EXPECT_TRUE(store.exists("db"));
  ASSERT_EQ(store.list().size(), 1u);
  // The name can be used again.
  create("web");
  EXPECT_TRUE(store.exists("web"));
}

TEST_F(Store, RemoveOfAVmFolderThatIsASymlinkKeepsTheTarget) {
  data.ensure_exists();
  fs::create_directories(temp / "outside");
  write_text(temp / "outside" / "canary", "x");
  fs::create_directory_symlink(temp / "outside", data.vm_dir("web"));
  store.remove(store.lock("web"));
  EXPECT_FALSE(fs::exists(fs::symlink_status(data.vm_dir("web"))));
  EXPECT_TRUE(fs::exists(temp / "outside" / "canary"));
}

}  // namespace
}  // namespace vm_manager
