-- Argo CD health check for media.chimeoperator.dev/MediaConcatenationPipeline.
-- Generated from health.lua.template; after editing the template, run
-- CHIME_BLESS=1 cargo nextest run --config-file tests/nextest.toml --test health
--
-- Reads only what the operator writes: status.observedGeneration and the
-- kstatus-style conditions Reconciling, Stalled, Finished and Ready (plus
-- Synced for the message). Status pipelineStatus says what AWS reports.
local kindName = "media concatenation pipeline"

local function condition(conditions, type_)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == type_ then
      return c
    end
  end
  return nil
end

local function isTrue(c)
  return c ~= nil and c.status == "True"
end

local function describe(c)
  local reason = c.reason or ""
  local message = c.message or ""
  if reason == "" then
    return message
  end
  if message == "" then
    return reason
  end
  return reason .. ": " .. message
end

hs = {}
local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report on this " .. kindName .. "."
  return hs
end

local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation) .. "."
  return hs
end

local conditions = status.conditions
local reconciling = condition(conditions, "Reconciling")
local stalled = condition(conditions, "Stalled")
local ready = condition(conditions, "Ready")
local synced = condition(conditions, "Synced")

if isTrue(reconciling) then
  hs.status = "Progressing"
  hs.message = describe(reconciling)
  -- Still getting there, but the last try failed (throttled, AWS out of
  -- reach...): say so, or a long Progressing would not tell why.
  if synced ~= nil and synced.status == "False" and synced.reason ~= reconciling.reason then
    hs.message = hs.message .. " Last reconcile: " .. describe(synced)
  end
  return hs
end

if isTrue(stalled) then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end

-- A pipeline whose meeting ended: done, and healthy.
local finished = condition(conditions, "Finished")
if isTrue(finished) then
  hs.status = "Healthy"
  hs.message = "Finished. " .. describe(finished)
  return hs
end

if isTrue(ready) then
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end

hs.status = "Progressing"
if synced ~= nil and synced.status == "False" then
  hs.message = describe(synced)
elseif ready ~= nil then
  hs.message = describe(ready)
else
  hs.message = "Waiting for the " .. kindName .. " to become ready."
end
return hs
