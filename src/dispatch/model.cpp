// Model's members, compiled once with no -m flag for the users of mobilenext::dispatch (who
// include only their declarations): the blocks, the scheduling and the network exist once in
// the program; only the leaf kernels exist once per instruction set (kernels_<id>.cpp).
#include <mobilenext/model/model_definitions.hpp>
