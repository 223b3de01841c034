#include "comptoir/core/names.h"

#include <unistd.h>

#include <cstdlib>

#include "comptoir/core/strings.h"
#include "fmt/format.h"

namespace comptoir::core {

std::string HomeStateDir(std::string_view what) {
  const char* home = std::getenv("HOME");
  return StrCat(home != nullptr && *home != '\0' ? home : ".", "/.comptoir/", what);
}

std::string HostName() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return host;
}

std::string NameHash(std::string_view text) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return fmt::format("{:016x}", h);
}

}  // namespace comptoir::core
