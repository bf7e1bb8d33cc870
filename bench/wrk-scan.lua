-- wrk script for the scan lookup (bench/wrk.ts runs it): each request a random barcode from the
-- file $BARCODES under $PATH_PREFIX, with $AUTHORIZATION as the Authorization header when set.
-- Requests are formatted once, up front, to keep wrk's own CPU per request low: it runs on the
-- same cores as the servers measured. (Keep the file to some 20,000 barcodes: wrk's CPU per
-- request grows with the number of strings its Lua state holds.)
local prefix = os.getenv("PATH_PREFIX") or "/v1/specimens/by-barcode/"
local authorization = os.getenv("AUTHORIZATION")
local headers = {}
if authorization and authorization ~= "" then headers["Authorization"] = authorization end
local requests = {}
-- In init, once wrk has set the Host header of each thread.
init = function()
  for line in io.lines(os.getenv("BARCODES") or "barcodes.txt") do
    if #line > 0 then requests[#requests + 1] = wrk.format("GET", prefix .. line, headers) end
  end
  math.randomseed(os.time())
end
request = function()
  return requests[math.random(#requests)]
end
