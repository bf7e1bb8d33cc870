-- wrk script for the scan lookup: a random barcode from $BARCODES per request, $TOKEN as the API key (see BENCHMARKS.md).
local barcodes = {}
for line in io.lines(os.getenv("BARCODES") or "barcodes.txt") do barcodes[#barcodes + 1] = line end
local token = os.getenv("TOKEN")
math.randomseed(os.time())
request = function()
  local b = barcodes[math.random(#barcodes)]
  local headers = {}
  if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
  return wrk.format("GET", "/v1/specimens/by-barcode/" .. b, headers)
end
