-- Wireshark dissector for ruview / RuView node telemetry (docs/protocol.md, PROTOCOL.md §1).
-- Installed by `ruview wireshark --install`; field names follow the keys of `ruview tail --json`.
-- UDP port 5005 (Edit > Preferences > Protocols > RUVIEW to change it), and a heuristic on every
-- UDP port that claims a datagram only when its first four bytes are one of our magics.

local p = Proto("ruview", "RuView node telemetry")

local MAGIC = {
  [0xC5110001] = "csi_raw", [0xC5110002] = "vitals", [0xC5110003] = "features",
  [0xC5110004] = "fused_or_wasm", [0xC5110005] = "csi_compressed",
  [0xC5110006] = "feature_state", [0xC5118100] = "mesh",
}

local F = {}
local function add(name, abbr, ftype, desc, base)
  F[name] = ProtoField.new(desc, "ruview." .. abbr, ftype, nil, base)
end
add("magic", "magic", ftypes.UINT32, "Magic", base.HEX)
add("kind", "kind", ftypes.STRING, "Kind")
add("node_id", "node_id", ftypes.UINT8, "Node id")
add("reason", "reason", ftypes.STRING, "Why malformed")
-- raw CSI (§1.1)
add("n_antennas", "n_antennas", ftypes.UINT8, "Antennas")
add("n_subcarriers", "n_subcarriers", ftypes.UINT16, "Subcarriers")
add("freq_mhz", "freq_mhz", ftypes.UINT32, "Centre frequency (MHz)")
add("channel", "channel", ftypes.UINT8, "WiFi channel")
add("seq", "seq", ftypes.UINT32, "Sequence")
add("rssi_dbm", "rssi_dbm", ftypes.INT8, "RSSI (dBm)")
add("noise_floor_dbm", "noise_floor_dbm", ftypes.INT8, "Noise floor (dBm)")
add("flags", "flags", ftypes.UINT16, "Flags", base.HEX)
add("keyframe", "keyframe", ftypes.BOOLEAN, "Keyframe")
add("iq_len", "iq_len", ftypes.UINT32, "I/Q bytes")
add("iq", "iq", ftypes.BYTES, "I/Q (int8 pairs)")
-- vitals (§1.2) and fused vitals (§1.4)
add("presence", "presence", ftypes.BOOLEAN, "Presence")
add("fall", "fall", ftypes.BOOLEAN, "Fall")
add("motion", "motion", ftypes.BOOLEAN, "Motion")
add("breathing_bpm", "breathing_bpm", ftypes.DOUBLE, "Breathing (BPM, 0 = no estimate)")
add("heart_bpm", "heart_bpm", ftypes.DOUBLE, "Heart rate (BPM, 0 = no estimate)")
add("n_persons", "n_persons", ftypes.UINT8, "Persons")
add("breathing_conf", "breathing_conf", ftypes.DOUBLE, "Breathing confidence (0-1)")
add("heart_conf", "heart_conf", ftypes.DOUBLE, "Heart-rate confidence (0-1)")
add("motion_energy", "motion_energy", ftypes.FLOAT, "Motion energy")
add("presence_score", "presence_score", ftypes.FLOAT, "Presence score")
add("timestamp_ms", "timestamp_ms", ftypes.UINT32, "Node time (ms since boot)")
add("mmwave_presence", "mmwave_presence", ftypes.BOOLEAN, "mmWave presence")
add("mmwave_type", "mmwave_type", ftypes.UINT8, "mmWave sensor type")
add("fusion_confidence", "fusion_confidence", ftypes.UINT8, "Fusion confidence (%)")
add("mmwave_heart_bpm", "mmwave_heart_bpm", ftypes.FLOAT, "mmWave heart rate (BPM)")
add("mmwave_breathing_bpm", "mmwave_breathing_bpm", ftypes.FLOAT, "mmWave breathing (BPM)")
add("distance_cm", "distance_cm", ftypes.FLOAT, "Distance (cm)")
add("targets", "targets", ftypes.UINT8, "Targets")
add("mmwave_confidence", "mmwave_confidence", ftypes.UINT8, "mmWave confidence")
-- feature vector (§1.3)
add("timestamp_us", "timestamp_us", ftypes.INT64, "Node time (µs)")
-- The wire carries them scaled to [0, 1]; shown in their units, named like `tail --json`'s keys.
add("features.presence_score", "features.presence_score", ftypes.FLOAT, "Presence score")
add("features.motion_score", "features.motion_score", ftypes.FLOAT, "Motion score")
add("features.breathing_bpm", "features.breathing_bpm", ftypes.DOUBLE, "Breathing (BPM)")
add("features.heart_bpm", "features.heart_bpm", ftypes.DOUBLE, "Heart rate (BPM)")
add("features.phase_variance", "features.phase_variance", ftypes.FLOAT, "Mean top-K phase variance")
add("features.n_persons", "features.n_persons", ftypes.UINT8, "Persons")
add("features.fall", "features.fall", ftypes.BOOLEAN, "Fall")
add("features.rssi_dbm", "features.rssi_dbm", ftypes.DOUBLE, "RSSI (dBm)")
-- WASM events (§1.4)
add("module_id", "module_id", ftypes.UINT8, "WASM module")
add("event_count", "event_count", ftypes.UINT16, "Events")
add("wasm.event_type", "wasm.event_type", ftypes.UINT8, "Event type")
add("wasm.value", "wasm.value", ftypes.FLOAT, "Event value")
-- compressed (§1.5)
add("orig_len", "orig_len", ftypes.UINT16, "Original I/Q length")
add("comp_len", "comp_len", ftypes.UINT16, "Compressed length")
-- feature state (§1.6)
add("mode", "mode", ftypes.UINT8, "Mode")
local STATE = { "motion_score", "presence_score", "breathing_bpm", "breathing_conf", "heart_bpm",
                "heart_conf", "anomaly", "env_shift", "node_coherence" }
for _, k in ipairs(STATE) do add("state." .. k, "state." .. k, ftypes.FLOAT, k) end
add("quality_flags", "quality_flags", ftypes.UINT16, "Quality flags", base.HEX)
add("crc", "crc", ftypes.UINT32, "CRC-32", base.HEX)
add("crc_ok", "crc_ok", ftypes.BOOLEAN, "CRC-32 matches")
-- mesh envelope (§1.7)
add("mesh.version", "mesh.version", ftypes.UINT8, "Version")
add("mesh.msg_type", "mesh.msg_type", ftypes.UINT8, "Message type")
add("mesh.sender_role", "mesh.sender_role", ftypes.UINT8, "Sender role")
add("mesh.auth_class", "mesh.auth_class", ftypes.UINT8, "Auth class")
add("mesh.epoch", "mesh.epoch", ftypes.UINT32, "Epoch")
add("mesh.payload_len", "mesh.payload_len", ftypes.UINT16, "Payload length")
add("health.local_time_us", "health.local_time_us", ftypes.UINT64, "Local time (µs)")
add("health.role", "health.role", ftypes.UINT8, "Role")
add("health.channel", "health.channel", ftypes.UINT8, "Channel")
add("health.bandwidth_mhz", "health.bandwidth_mhz", ftypes.UINT8, "Bandwidth (MHz)")
add("health.noise_floor_dbm", "health.noise_floor_dbm", ftypes.INT8, "Noise floor (dBm)")
add("health.pkt_yield", "health.pkt_yield", ftypes.UINT16, "Packet yield")
add("health.sync_error_us", "health.sync_error_us", ftypes.UINT16, "Sync error (µs)")
add("health.health_flags", "health.health_flags", ftypes.UINT16, "Health flags", base.HEX)
add("alert.timestamp_us", "alert.timestamp_us", ftypes.UINT64, "Alert time (µs)")
add("alert.severity", "alert.severity", ftypes.UINT8, "Severity")
add("alert.reason", "alert.reason", ftypes.UINT8, "Reason")
add("alert.anomaly_score", "alert.anomaly_score", ftypes.FLOAT, "Anomaly score")
add("alert.motion_score", "alert.motion_score", ftypes.FLOAT, "Motion score")

local list = {}
for _, f in pairs(F) do list[#list + 1] = f end
p.fields = list

local e_malformed = ProtoExpert.new("ruview.malformed", "Malformed ruview packet",
                                    expert.group.MALFORMED, expert.severity.ERROR)
local e_crc = ProtoExpert.new("ruview.bad_crc", "CRC-32 mismatch (the receiver drops it)",
                              expert.group.CHECKSUM, expert.severity.WARN)
p.experts = { e_malformed, e_crc }

p.prefs.udp_port = Pref.uint("UDP port", 5005, "The port nodes send telemetry to (target_port)")

-- zlib's CRC-32 (reflected, polynomial 0xEDB88320), over a TvbRange.
local CRC_TABLE = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    if bit.band(c, 1) == 1 then c = bit.bxor(bit.rshift(c, 1), 0xEDB88320) else c = bit.rshift(c, 1) end
  end
  CRC_TABLE[i] = c
end
local function crc32(range)
  local c = 0xFFFFFFFF
  local bytes = range:bytes()
  for i = 0, bytes:len() - 1 do
    c = bit.bxor(CRC_TABLE[bit.band(bit.bxor(c, bytes:get_index(i)), 0xFF)], bit.rshift(c, 8))
  end
  c = bit.bxor(c, 0xFFFFFFFF)
  if c < 0 then c = c + 4294967296 end
  return c
end

local function channel_of(freq)
  if freq >= 2412 and freq <= 2472 and (freq - 2407) % 5 == 0 then return (freq - 2407) / 5 end
  if freq == 2484 then return 14 end
  if freq >= 5180 and freq <= 5885 and freq % 5 == 0 then return (freq - 5000) / 5 end
  return nil
end

local function malformed(tree, pinfo, buf, kind, why)
  tree:add(F.kind, "malformed")
  tree:add(F.reason, kind .. ": " .. why):add_proto_expert_info(e_malformed, why)
  pinfo.cols.info:set(string.format("malformed %s: %s", kind, why))
end

local function vitals_common(tree, buf)
  local flags = buf(5, 1):uint()
  tree:add(F.flags, buf(5, 1), flags)
  tree:add(F.presence, buf(5, 1), bit.band(flags, 1) ~= 0)
  tree:add(F.fall, buf(5, 1), bit.band(flags, 2) ~= 0)
  tree:add(F.motion, buf(5, 1), bit.band(flags, 4) ~= 0)
  local br = buf(6, 2):le_uint() / 100
  local hr = buf(8, 4):le_uint() / 10000
  -- 0 on the wire is "no estimate": no field, as `tail --json` says null
  if br > 0 then tree:add(F.breathing_bpm, buf(6, 2), br) else tree:add(buf(6, 2), "Breathing: no estimate") end
  if hr > 0 then tree:add(F.heart_bpm, buf(8, 4), hr) else tree:add(buf(8, 4), "Heart rate: no estimate") end
  tree:add(F.rssi_dbm, buf(12, 1), buf(12, 1):int())
  tree:add(F.n_persons, buf(13, 1), buf(13, 1):uint())
  tree:add_le(F.motion_energy, buf(16, 4))
  tree:add_le(F.presence_score, buf(20, 4))
  tree:add_le(F.timestamp_ms, buf(24, 4))
  return flags, br, hr
end

local function bpm_text(v) if v > 0 then return string.format("%.1f", v) else return "—" end end

local D = {}

D[0xC5110001] = function(buf, pinfo, tree)
  local len = buf:len()
  if len < 20 then return malformed(tree, pinfo, buf, "csi_raw", "shorter than the 20-byte header") end
  local nant, nsc = buf(5, 1):uint(), buf(6, 2):le_uint()
  local want = 20 + 2 * nsc * nant
  if nant < 1 or nsc < 1 or want ~= len then
    return malformed(tree, pinfo, buf, "csi_raw", string.format("size %d != 20 + 2*%d*%d = %d", len, nsc, nant, want))
  end
  local freq, flags = buf(8, 4):le_uint(), buf(18, 2):le_uint()
  tree:add(F.kind, "csi_raw")
  tree:add(F.n_antennas, buf(5, 1))
  tree:add_le(F.n_subcarriers, buf(6, 2))
  tree:add_le(F.freq_mhz, buf(8, 4))
  local ch = channel_of(freq)
  if ch then tree:add(F.channel, buf(8, 4), ch) end
  tree:add_le(F.seq, buf(12, 4))
  tree:add(F.rssi_dbm, buf(16, 1), buf(16, 1):int())
  tree:add(F.noise_floor_dbm, buf(17, 1), buf(17, 1):int())
  tree:add(F.flags, buf(18, 2), flags)
  tree:add(F.keyframe, buf(18, 2), bit.band(flags, 1) ~= 0)
  tree:add(F.iq_len, buf(20), len - 20)
  tree:add(F.iq, buf(20))
  pinfo.cols.info:set(string.format("csi_raw node %d seq %u, %d subcarriers, %d dBm",
    buf(4, 1):uint(), buf(12, 4):le_uint(), nsc, buf(16, 1):int()))
end

D[0xC5110002] = function(buf, pinfo, tree)
  if buf:len() ~= 32 then return malformed(tree, pinfo, buf, "vitals", string.format("size %d != 32", buf:len())) end
  tree:add(F.kind, "vitals")
  local flags, br, hr = vitals_common(tree, buf)
  -- our firmware (flags bit 7): bytes 14/15 carry each estimate's confidence, 0-100 (§7)
  if bit.band(flags, 0x80) ~= 0 then
    if br > 0 then tree:add(F.breathing_conf, buf(14, 1), buf(14, 1):uint() / 100) end
    if hr > 0 then tree:add(F.heart_conf, buf(15, 1), buf(15, 1):uint() / 100) end
  end
  pinfo.cols.info:set(string.format("vitals node %d: breathing %s, heart %s%s%s", buf(4, 1):uint(),
    bpm_text(br), bpm_text(hr), bit.band(flags, 1) ~= 0 and ", presence" or "", bit.band(flags, 2) ~= 0 and ", FALL" or ""))
end

D[0xC5110003] = function(buf, pinfo, tree)
  if buf:len() ~= 48 then return malformed(tree, pinfo, buf, "features", string.format("size %d != 48", buf:len())) end
  tree:add(F.kind, "features")
  tree:add_le(F.seq, buf(6, 2))
  tree:add_le(F.timestamp_us, buf(8, 8))
  local function f(i) return buf(16 + 4 * i, 4) end
  local function scaled(i, k, off) return tonumber(string.format("%.3f", f(i):le_float() * k + (off or 0))) end
  tree:add_le(F["features.presence_score"], f(0))
  tree:add_le(F["features.motion_score"], f(1))
  if f(2):le_float() ~= 0 then tree:add(F["features.breathing_bpm"], f(2), scaled(2, 30)) end
  if f(3):le_float() ~= 0 then tree:add(F["features.heart_bpm"], f(3), scaled(3, 120)) end
  tree:add_le(F["features.phase_variance"], f(4))
  tree:add(F["features.n_persons"], f(5), math.floor(f(5):le_float() * 4 + 0.5))
  tree:add(F["features.fall"], f(6), f(6):le_float() >= 0.5)
  tree:add(F["features.rssi_dbm"], f(7), scaled(7, 100, -100))
  pinfo.cols.info:set(string.format("features node %d seq %d", buf(4, 1):uint(), buf(6, 2):le_uint()))
end

D[0xC5110004] = function(buf, pinfo, tree)
  local len = buf:len()
  if len >= 8 and len == 8 + 5 * buf(6, 2):le_uint() then
    local n = buf(6, 2):le_uint()
    if n > 16 then return malformed(tree, pinfo, buf, "wasm_events", "more than 16 events") end
    tree:add(F.kind, "wasm_events")
    tree:add(F.module_id, buf(5, 1))
    tree:add_le(F.event_count, buf(6, 2))
    for i = 0, n - 1 do
      local ev = tree:add(p, buf(8 + 5 * i, 5), "Event " .. i)
      ev:add(F["wasm.event_type"], buf(8 + 5 * i, 1))
      ev:add_le(F["wasm.value"], buf(9 + 5 * i, 4))
    end
    pinfo.cols.info:set(string.format("wasm_events node %d module %d: %d events", buf(4, 1):uint(), buf(5, 1):uint(), n))
  elseif len == 48 then
    tree:add(F.kind, "fused_vitals")
    local flags, br, hr = vitals_common(tree, buf)
    tree:add(F.mmwave_presence, buf(5, 1), bit.band(flags, 8) ~= 0)
    tree:add(F.mmwave_type, buf(14, 1))
    tree:add(F.fusion_confidence, buf(15, 1))
    if buf(28, 4):le_float() ~= 0 then tree:add_le(F.mmwave_heart_bpm, buf(28, 4)) end
    if buf(32, 4):le_float() ~= 0 then tree:add_le(F.mmwave_breathing_bpm, buf(32, 4)) end
    tree:add_le(F.distance_cm, buf(36, 4))
    tree:add(F.targets, buf(40, 1))
    tree:add(F.mmwave_confidence, buf(41, 1))
    pinfo.cols.info:set(string.format("fused_vitals node %d: breathing %s, heart %s", buf(4, 1):uint(), bpm_text(br), bpm_text(hr)))
  else
    return malformed(tree, pinfo, buf, "fused_or_wasm", string.format("size %d is neither 48 nor 8 + 5*count", len))
  end
end

D[0xC5110005] = function(buf, pinfo, tree)
  local len = buf:len()
  if len < 10 then return malformed(tree, pinfo, buf, "csi_compressed", "shorter than the 10-byte header") end
  local comp = buf(8, 2):le_uint()
  if len ~= 10 + comp or comp % 2 ~= 0 then
    return malformed(tree, pinfo, buf, "csi_compressed", string.format("size %d != 10 + comp_len %d (even)", len, comp))
  end
  tree:add(F.kind, "csi_compressed")
  tree:add(F.channel, buf(5, 1))
  tree:add_le(F.orig_len, buf(6, 2))
  tree:add_le(F.comp_len, buf(8, 2))
  pinfo.cols.info:set(string.format("csi_compressed node %d: %d -> %d bytes", buf(4, 1):uint(), buf(6, 2):le_uint(), comp))
end

D[0xC5110006] = function(buf, pinfo, tree)
  if buf:len() ~= 60 then return malformed(tree, pinfo, buf, "feature_state", string.format("size %d != 60", buf:len())) end
  local crc, want = crc32(buf(0, 56)), buf(56, 4):le_uint()
  if crc ~= want then
    tree:add_le(F.crc, buf(56, 4)):add_proto_expert_info(e_crc)
    return malformed(tree, pinfo, buf, "feature_state", "bad CRC")
  end
  tree:add(F.kind, "feature_state")
  tree:add(F.mode, buf(5, 1))
  tree:add_le(F.seq, buf(6, 2))
  tree:add_le(F.timestamp_us, buf(8, 8))
  for i, k in ipairs(STATE) do
    local r = buf(16 + 4 * (i - 1), 4)
    -- a rate of 0 is "no estimate" (null in `tail --json`): no field
    if not ((k == "breathing_bpm" or k == "heart_bpm") and r:le_float() == 0) then
      tree:add_le(F["state." .. k], r)
    end
  end
  tree:add_le(F.quality_flags, buf(52, 2))
  tree:add_le(F.crc, buf(56, 4))
  tree:add(F.crc_ok, buf(56, 4), true)
  pinfo.cols.info:set(string.format("feature_state node %d seq %d", buf(4, 1):uint(), buf(6, 2):le_uint()))
end

D[0xC5118100] = function(buf, pinfo, tree)
  local len = buf:len()
  if len < 20 then return malformed(tree, pinfo, buf, "mesh", "shorter than header + CRC") end
  local plen = buf(12, 2):le_uint()
  if plen > 256 or len ~= 16 + plen + 4 then
    return malformed(tree, pinfo, buf, "mesh", string.format("size %d != 16 + %d + 4", len, plen))
  end
  if crc32(buf(0, 16 + plen)) ~= buf(16 + plen, 4):le_uint() then
    tree:add_le(F.crc, buf(16 + plen, 4)):add_proto_expert_info(e_crc)
    return malformed(tree, pinfo, buf, "mesh", "bad CRC")
  end
  local mtype = buf(5, 1):uint()
  local kind = (mtype == 6 and "mesh_health") or (mtype == 7 and "mesh_anomaly") or "mesh"
  tree:add(F.kind, kind)
  if plen >= 1 and (mtype == 6 or mtype == 7) then tree:add(F.node_id, buf(16, 1)) end
  tree:add(F["mesh.version"], buf(4, 1))
  tree:add(F["mesh.msg_type"], buf(5, 1))
  tree:add(F["mesh.sender_role"], buf(6, 1))
  tree:add(F["mesh.auth_class"], buf(7, 1))
  tree:add_le(F["mesh.epoch"], buf(8, 4))
  tree:add_le(F["mesh.payload_len"], buf(12, 2))
  if mtype == 6 and plen == 28 then
    local o = 16
    tree:add_le(F["health.local_time_us"], buf(o + 8, 8))
    tree:add(F["health.role"], buf(o + 16, 1))
    tree:add(F["health.channel"], buf(o + 17, 1))
    tree:add(F["health.bandwidth_mhz"], buf(o + 18, 1))
    tree:add(F["health.noise_floor_dbm"], buf(o + 19, 1), buf(o + 19, 1):int())
    tree:add_le(F["health.pkt_yield"], buf(o + 20, 2))
    tree:add_le(F["health.sync_error_us"], buf(o + 22, 2))
    tree:add_le(F["health.health_flags"], buf(o + 24, 2))
  elseif mtype == 7 and plen == 28 then
    local o = 16
    tree:add_le(F["alert.timestamp_us"], buf(o + 8, 8))
    tree:add(F["alert.severity"], buf(o + 16, 1))
    tree:add(F["alert.reason"], buf(o + 17, 1))
    tree:add_le(F["alert.anomaly_score"], buf(o + 20, 4))
    tree:add_le(F["alert.motion_score"], buf(o + 24, 4))
  end
  tree:add_le(F.crc, buf(16 + plen, 4))
  pinfo.cols.info:set(string.format("%s epoch %d", kind, buf(8, 4):le_uint()))
end

local function dissect(buf, pinfo, root)
  if buf:len() < 4 then return 0 end
  local magic = buf(0, 4):le_uint()
  local fn = D[magic]
  pinfo.cols.protocol:set("RUVIEW")
  local tree = root:add(p, buf(), "RuView telemetry")
  tree:add_le(F.magic, buf(0, 4))
  if fn == nil then
    tree:add(F.kind, "unknown")
    pinfo.cols.info:set(string.format("unknown magic 0x%08X", magic))
    return buf:len()
  end
  if magic ~= 0xC5118100 and buf:len() >= 5 then tree:add(F.node_id, buf(4, 1)) end
  fn(buf, pinfo, tree)
  return buf:len()
end

function p.dissector(buf, pinfo, root) return dissect(buf, pinfo, root) end

local function heuristic(buf, pinfo, root)
  if buf:len() < 4 or D[buf(0, 4):le_uint()] == nil then return false end
  dissect(buf, pinfo, root)
  return true
end

local current_port = 0
local function register_port()
  local udp = DissectorTable.get("udp.port")
  if current_port ~= 0 then udp:remove(current_port, p) end
  current_port = p.prefs.udp_port
  if current_port ~= 0 then udp:add(current_port, p) end
end
p.prefs_changed = register_port
register_port()
p:register_heuristic("udp", heuristic)
