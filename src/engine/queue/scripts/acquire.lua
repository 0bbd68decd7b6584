-- ACQUIRE: a place in the shared window for one request, before its POST.
-- KEYS, ARGV: window.lua's. Returns 0 = go now, n > 0 = ask again in n ms.
-- Atomic so that workers on any machine never hand out more than `rate` places in a window.
--- @include "window.lua"
return take()
