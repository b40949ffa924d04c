// The public header must compile as C++ and its functions link from C++.
#include <hamt.h>

#include <cstdio>

int
main()
{
    const struct hamt *m = hamt_new(HAMT_KEY_U64);
    const struct hamt *m2 = m ? hamt_set(m, HAMT_U64(7), nullptr) : nullptr;
    bool ok = m2 != nullptr && hamt_size(m2) == 1 && hamt_contains(m2, HAMT_U64(7))
              && HAMT_AS_U64(HAMT_U64(7)) == 7;
    std::printf("%d passed, %d failed\n", ok ? 1 : 0, ok ? 0 : 1);
    return ok ? 0 : 1;
}
