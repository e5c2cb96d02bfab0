#pragma once
// The kernel tables a program can run, chosen by name when a model is built. Defined by
// model_definitions.hpp in header-only use (the compiler's own instruction set and the
// reference) and by mobilenext::dispatch when it is linked (every instruction set of the
// target that this CPU and operating system run, from the list in
// kernels/instruction_sets.hpp, and the reference).
#include <string>
#include <vector>

#include "../kernels/kernel_table.hpp"
#include "model.hpp"

namespace mobilenext::internal {

// Best first; the reference kernels last.
MOBILENEXT_API MOBILENEXT_MODEL_INLINE const std::vector<const kernels::KernelTable*>& kernel_tables();

// The table named `name` (KernelTable::name()), or the first of kernel_tables() when `name`
// is empty. Throws mobilenext::Error listing the available names otherwise.
inline const kernels::KernelTable& kernel_table(const std::string& name) {
    const std::vector<const kernels::KernelTable*>& tables = kernel_tables();
    if (name.empty()) return *tables.front();
    std::string available;
    for (const kernels::KernelTable* table : tables) {
        if (table->name() == name) return *table;
        available += (available.empty() ? "" : ", ") + table->name();
    }
    throw Error("kernel set '" + name + "' is not available in this program on this CPU; available: " + available);
}

}  // namespace mobilenext::internal
