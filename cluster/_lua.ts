// Lua shared by the scripts of the Redis objects (queues, managers, pools).

/**
 * Lua: `in_chunks(cmd, key, list, from, to)` calls `cmd key item...` on `list[from..to]`, a
 * thousand items a call (Lua's unpack has a bounded stack).
 */
export const IN_CHUNKS_LUA = `
local function in_chunks(cmd, key, list, from, to)
  for i = from, to, 1000 do redis.call(cmd, key, unpack(list, i, math.min(i + 999, to))) end
end
`;
