-- Kiwi's Lua prelude: builds Redis's script environment on a fresh Lua state, before the
-- user's code runs. Frames of this chunk (named "=kiwi") are skipped when an error is located,
-- so errors point at the user's line as Redis's do.
local raw = ...
local _G = _G
local getinfo = debug.getinfo
local error, type, tostring, pairs, ipairs, select, setmetatable, xpcall, unpack =
    error, type, tostring, pairs, ipairs, select, setmetatable, xpcall, unpack
local loadstring_ = loadstring

-- Rust functions report failures as (false, message); these raise them at the caller's line.
local function raising(f)
  return function(...)
    local ok, r = f(...)
    if not ok then error(r, 2) end
    return r
  end
end

local function table_error(msg)
  error({err = msg})
end

local function error_of(e)
  e = tostring(e)
  if e:sub(1, 1) == '-' then e = e:sub(2) end
  if not e:find(' ', 1, true) then e = 'ERR ' .. e end
  return (e:gsub('[\r\n]+$', ''))
end

local function common_api(api)
  api.LOG_DEBUG, api.LOG_VERBOSE, api.LOG_NOTICE, api.LOG_WARNING = 0, 1, 2, 3
  api.REDIS_VERSION = '7.0.15'
  api.REDIS_VERSION_NUM = 458767
  api.log = raw.log
  return api
end

local redis = common_api({})
-- redis.call and redis.pcall are set from Rust for each run (they reach its transaction).
redis.error_reply = function(...)
  local e = ...
  if select('#', ...) ~= 1 or (type(e) ~= 'string' and type(e) ~= 'number') then
    return {err = 'ERR wrong number or type of arguments'}
  end
  return {err = error_of(e)}
end
redis.status_reply = function(...)
  local s = ...
  if select('#', ...) ~= 1 or (type(s) ~= 'string' and type(s) ~= 'number') then
    return {err = 'ERR wrong number or type of arguments'}
  end
  return {ok = s}
end
redis.sha1hex = raw.sha1hex
redis.setresp = raw.setresp
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
-- Accepted and ignored: every script's effects are replicated whole, through the Raft log.
redis.set_repl = raw.set_repl
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.acl_check_cmd = raw.acl_check_cmd

-- What a library's code sees while it loads (FUNCTION LOAD, and FCALL before it calls).
local library_redis = common_api({})
library_redis.register_function = function(...)
  local failure = raw.register(...)
  if failure then table_error('ERR ' .. failure) end
end

cjson.encode = raw.cjson_encode
cjson.decode = raw.cjson_decode
cjson.null = raw.null
cmsgpack.pack = raw.cmsgpack_pack
cmsgpack.unpack = raw.cmsgpack_unpack
math.random = raw.random
math.randomseed = raw.randomseed
-- Bytecode bypasses the compiler's checks: only source may be loaded.
loadstring = function(s, name)
  if type(s) == 'string' and s:byte(1) == 27 then return nil, 'binary chunks are not allowed' end
  return loadstring_(s, name)
end

local function readonly(t)
  return setmetatable({}, {
    __index = t,
    __newindex = function() error('Attempt to modify a readonly table', 2) end,
    __metatable = false,
  })
end

local function missing(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end

-- Globals the scripts get, as Redis 7.0 offers them.
local kept = {
  'assert', 'collectgarbage', 'error', 'gcinfo', 'getmetatable', 'ipairs', 'loadstring',
  'next', 'pairs', 'pcall', 'rawequal', 'rawget', 'rawset', 'select', 'setmetatable',
  'tonumber', 'tostring', 'type', 'unpack', 'xpcall', '_VERSION', 'KEYS', 'ARGV',
}
local libraries = {'string', 'table', 'math', 'coroutine', 'cjson', 'bit', 'cmsgpack'}
local full, load_env = {}, {}
for _, name in ipairs(kept) do full[name] = _G[name] end
for _, name in ipairs(libraries) do
  full[name] = readonly(_G[name])
  load_env[name] = full[name]
end
full.redis = readonly(redis)
load_env.redis = readonly(setmetatable(library_redis, {__index = missing}))
for k in pairs(_G) do _G[k] = nil end
full._G = _G
load_env._G = _G
setmetatable(full, {__index = missing})
setmetatable(load_env, {__index = missing})
local globals_meta = {
  __index = full,
  __newindex = function() error('Attempt to modify a readonly table', 2) end,
  __metatable = false,
}
setmetatable(_G, globals_meta)

-- Finds where an error was raised (the first frame that is neither C nor this prelude) and
-- turns it into Redis's error table {err=..., source=..., line=...}.
local function handler(err)
  local level, info = 2, nil
  repeat
    info = getinfo(level, 'Sl')
    level = level + 1
  until info == nil or (info.what ~= 'C' and info.what ~= 'tail' and info.source ~= '=kiwi')
  if type(err) == 'userdata' then
    -- A Rust function's failure (redis.call's error reply): the table Redis raises.
    local found = raw.error_text(err)
    if found then
      local text, positioned = found[1], found[2]
      if positioned and info then text = info.short_src .. ':' .. info.currentline .. ': ' .. text end
      if positioned then text = 'ERR ' .. text end
      err = {err = text}
    end
  end
  if type(err) ~= 'table' then err = {err = 'ERR ' .. tostring(err)} end
  if info then
    err.source = info.source
    err.line = info.currentline
  end
  return err
end

local api = {redis = redis}
-- Calls f(a, b) under the handler: true and the first result, or false and the error table.
function api.invoke(f, a, b)
  return xpcall(function() return f(a, b) end, handler)
end
function api.library_env() globals_meta.__index = load_env end
function api.script_env() globals_meta.__index = full end
return api
