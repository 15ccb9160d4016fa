// The on-disk object cache: entry format, validation, atomic publication and LRU eviction.
#include "backends/cpu/object_cache.h"

#include <llvm/Support/SHA256.h>
#include <llvm/Support/xxhash.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

namespace tracejit::backends {
namespace {

constexpr char kMagic[8] = {'T', 'J', 'I', 'T', 'O', 'B', 'J', '\n'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderBytes = 64;
constexpr const char* kSuffix = ".tjo";
// Temp files older than this were left by a writer that died: the next eviction removes them.
constexpr time_t kStaleTempSeconds = 600;

void put_u32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_u64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint64_t get_u64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}
uint32_t get_u32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

uint64_t checksum(std::string_view payload) {
  return llvm::xxHash64(llvm::StringRef(payload.data(), payload.size()));
}

bool read_file(const std::string& path, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st{};
  bool ok = ::fstat(fd, &st) == 0 && st.st_size >= 0;
  if (ok) {
    out.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (ok && got < out.size()) {
      ssize_t n = ::read(fd, out.data() + got, out.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) ok = false;
      else got += static_cast<size_t>(n);
    }
  }
  ::close(fd);
  return ok;
}

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w, n -= static_cast<size_t>(w);
  }
  return true;
}

bool make_dirs(const std::string& dir) {
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i < dir.size() && dir[i] != '/') continue;
    std::string prefix = dir.substr(0, i);
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) return false;
  }
  return true;
}

bool ends_with(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

}  // namespace

ObjectKey object_key(std::string_view key_text) {
  llvm::SHA256 sha;
  sha.update(llvm::StringRef(key_text.data(), key_text.size()));
  std::array<uint8_t, 32> digest = sha.final();
  ObjectKey k;
  std::copy(digest.begin(), digest.end(), k.begin());
  return k;
}

std::string to_hex(const ObjectKey& key) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t b : key) s += digits[b >> 4], s += digits[b & 15];
  return s;
}

std::string default_object_cache_dir() {
  if (const char* d = std::getenv("TRACEJIT_CACHE_DIR")) return d;  // "" disables
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/tracejit";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/tracejit";
  return "";
}

int64_t default_object_cache_max_bytes() {
  if (const char* env = std::getenv("TRACEJIT_CACHE_MAX_BYTES")) {
    char* end = nullptr;
    long long v = std::strtoll(env, &end, 10);
    if (end != env && *end == '\0' && v > 0) return v;
  }
  return kDefaultObjectCacheMaxBytes;
}

std::string ObjectCacheDir::entry_path(const ObjectKey& key) const { return dir_ + "/" + to_hex(key) + kSuffix; }

std::optional<std::string> ObjectCacheDir::load(const ObjectKey& key) const noexcept {
  try {
    std::string path = entry_path(key);
    std::string data;
    if (!read_file(path, data)) return std::nullopt;
    bool valid = data.size() >= kHeaderBytes && std::memcmp(data.data(), kMagic, 8) == 0 &&
                 get_u32(data.data() + 8) == kFormatVersion &&
                 std::memcmp(data.data() + 16, key.data(), key.size()) == 0 &&
                 get_u64(data.data() + 48) == data.size() - kHeaderBytes;
    std::string_view payload = valid ? std::string_view(data).substr(kHeaderBytes) : std::string_view();
    if (!valid || get_u64(data.data() + 56) != checksum(payload)) {
      ::unlink(path.c_str());  // corrupt or from another format: never run it
      return std::nullopt;
    }
    ::utimes(path.c_str(), nullptr);  // most recently used
    return std::string(payload);
  } catch (...) {
    return std::nullopt;
  }
}

void ObjectCacheDir::store(const ObjectKey& key, std::string_view object) const noexcept {
  try {
    if (dir_.empty() || !make_dirs(dir_)) return;
    char header[kHeaderBytes] = {};
    std::memcpy(header, kMagic, 8);
    put_u32(header + 8, kFormatVersion);
    std::memcpy(header + 16, key.data(), key.size());
    put_u64(header + 48, object.size());
    put_u64(header + 56, checksum(object));
    static std::atomic<uint64_t> counter{0};
    std::string tmp = dir_ + "/.tmp." + to_hex(key).substr(0, 16) + "." + std::to_string(::getpid()) + "." +
                      std::to_string(counter.fetch_add(1));
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return;
    bool ok = write_all(fd, header, kHeaderBytes) && write_all(fd, object.data(), object.size());
    ok = ::close(fd) == 0 && ok;
    if (!ok || ::rename(tmp.c_str(), entry_path(key).c_str()) != 0) {
      ::unlink(tmp.c_str());
      return;
    }
    evict();
  } catch (...) {
  }
}

void ObjectCacheDir::evict() const noexcept {
  try {
    DIR* d = ::opendir(dir_.c_str());
    if (!d) return;
    struct Entry {
      std::string path;
      int64_t bytes;
      struct timespec used;
    };
    std::vector<Entry> entries;
    int64_t total = 0;
    time_t now = ::time(nullptr);
    while (struct dirent* de = ::readdir(d)) {
      std::string name = de->d_name;
      std::string path = dir_ + "/" + name;
      bool entry = ends_with(name, kSuffix), temp = name.rfind(".tmp.", 0) == 0;
      if (!entry && !temp) continue;
      struct stat st{};
      if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      if (temp) {
        if (now - st.st_mtime > kStaleTempSeconds) ::unlink(path.c_str());
        continue;
      }
      entries.push_back({path, static_cast<int64_t>(st.st_size), st.st_mtim});
      total += st.st_size;
    }
    ::closedir(d);
    if (total <= max_bytes_) return;
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return a.used.tv_sec != b.used.tv_sec ? a.used.tv_sec < b.used.tv_sec : a.used.tv_nsec < b.used.tv_nsec;
    });
    for (const Entry& e : entries) {
      if (total <= max_bytes_) break;
      if (::unlink(e.path.c_str()) == 0) total -= e.bytes;
    }
  } catch (...) {
  }
}

}  // namespace tracejit::backends
