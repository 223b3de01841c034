// Rules against the lake: each dataset's _schema.json names its columns.
#include <map>

#include "comptoir/core/strings.h"
#include "comptoir/lake/dataset.h"
#include "comptoir/quality/rules.h"

namespace comptoir::quality {

std::vector<RuleStatus> CheckAgainstLake(std::span<const Rule> rules, lake::Storage* lake) {
  std::map<std::string, StatusOr<lake::DatasetSchema>> schemas;
  auto schema = [&](const std::string& dir) -> const StatusOr<lake::DatasetSchema>& {
    auto it = schemas.find(dir);
    if (it == schemas.end()) it = schemas.emplace(dir, lake::ReadDatasetSchema(lake, dir)).first;
    return it->second;
  };
  std::vector<RuleStatus> out;
  for (const Rule& r : rules) {
    RuleStatus st;
    const StatusOr<lake::DatasetSchema>& s = schema(r.dataset);
    if (absl::IsNotFound(s.status())) {
      st.text = "dataset not imported yet: checked at its first import";
    } else if (!s.ok()) {
      st = {false, std::string(s.status().message())};
    } else {
      for (const std::string& c : r.columns) {
        if (s->ColumnIndex(c) < 0) {
          std::vector<std::string> names;
          for (const lake::ColumnSchema& col : s->columns) names.push_back(col.name);
          st = {false, StrCat("no column ", c, " in ", r.dataset, " (its columns: ", Join(names, ", "), ")")};
          break;
        }
      }
    }
    if (st.ok && r.check == Check::kReferences) {
      const StatusOr<lake::DatasetSchema>& ref = schema(r.ref_dataset);
      if (!ref.ok()) {
        st = {false, absl::IsNotFound(ref.status())
                         ? StrCat("referenced dataset ", r.ref_dataset, " does not exist: import it first")
                         : std::string(ref.status().message())};
      } else if (ref->ColumnIndex(r.ref_column) < 0) {
        st = {false, StrCat("no column ", r.ref_column, " in the referenced dataset ", r.ref_dataset)};
      }
    }
    if (st.ok && st.text.empty()) st.text = "ok";
    out.push_back(std::move(st));
  }
  return out;
}

}  // namespace comptoir::quality
