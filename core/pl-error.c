#include "pl-error.h"

G_DEFINE_QUARK (paramlab-error-quark, pl_error)
