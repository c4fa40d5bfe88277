// Over ~400 lines on purpose: the KNMI EDR API as it behaves (gateway vs application errors, coverage JSON, data-point
// limits, faults) is one contract; tests and benchmarks depend on it matching the real service in every detail.
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Ingot.Simulators;

/// <summary>KNMI EDR API behind a Tyk gateway: gateway errors use <c>error</c>, application errors FastAPI's <c>detail</c>.</summary>
internal sealed class KnmiApi(SimulatorOptions options) : ISimApi
{
    public const string CoverageJson = "application/prs.coverage+json";
    private const string Crs84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
    private const string StampFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'";

    public string BasePath => "/edr/v1";

    public double DefaultRateLimit => 200;

    public long? DefaultQuota => null;

    public TimeSpan QuotaWindow => TimeSpan.FromHours(1);

    public bool QuotaBeforeRateLimit => false;

    public bool EmitsRateLimitHeaders => true;

    public FaultKinds SupportedFaults => FaultKinds.All & ~FaultKinds.HtmlPage;

    public bool IsDataRequest(PathString path) => TrySplit(path, out var parts) && parts.Length == 4 && parts[2] == "locations";

    public SimResponse? CheckAuth(HttpRequest request)
    {
        var key = request.Headers.Authorization.ToString();
        if (key.Length == 0)
        {
            return Gateway(401, "Authorization field missing");
        }

        return key == options.ApiKey ? null : Gateway(403, "Access to this API has been disallowed");
    }

    public SimResponse RateLimited() => Gateway(429, "Rate limit exceeded");

    public SimResponse QuotaExceeded(long quota) => Gateway(options.QuotaExceededAs429 ? 429 : 403, "Quota exceeded");

    public SimResponse Overloaded() => Gateway(503, "Service overloaded");

    public SimResponse Fault(FaultKinds kind, Random random, HttpRequest request) => kind switch
    {
        FaultKinds.ServerError5xx => random.Next(3) switch
        {
            0 => SimResponse.Text(500, "text/plain; charset=utf-8", "Internal Server Error"),
            1 => Gateway(502, "There was a problem proxying the request"),
            _ => Gateway(503, "Service temporarily unavailable"),
        },
        FaultKinds.TooManyRequests429 => RateLimited(),
        FaultKinds.TooManyRequests429RetryAfter => RateLimited() with { RetryAfter = TimeSpan.FromSeconds(options.RetryAfterSeconds) },
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Not a response fault."),
    };

    public SimResponse Handle(HttpRequest request, DateTimeOffset now)
    {
        if (!HttpMethods.IsGet(request.Method))
        {
            return Detail(405, "Method Not Allowed");
        }

        if (!TrySplit(request.Path, out var parts))
        {
            return Detail(404, "Not Found");
        }

        var root = $"http://{request.Host}{BasePath}";
        if (parts.Length == 0)
        {
            return SimResponse.JsonBody(200, SimResponse.Json, w =>
            {
                w.WriteStartObject();
                w.WriteString("title", "KNMI EDR API (simulator)");
                w.WriteStartArray("links");
                WriteLink(w, $"{root}/collections", "data");
                w.WriteEndArray();
                w.WriteEndObject();
            });
        }

        if (parts[0] != "collections")
        {
            return Detail(404, "Not Found");
        }

        if (parts.Length == 1)
        {
            return SimResponse.JsonBody(200, SimResponse.Json, w =>
            {
                w.WriteStartObject();
                w.WriteStartArray("links");
                WriteLink(w, $"{root}/collections", "self");
                w.WriteEndArray();
                w.WriteStartArray("collections");
                foreach (var c in KnmiCollections.All)
                {
                    WriteCollection(w, c, root, now);
                }

                w.WriteEndArray();
                w.WriteEndObject();
            });
        }

        var collection = KnmiCollections.Find(parts[1]);
        if (collection is null)
        {
            return Detail(404, $"Collection with id '{parts[1]}' not found");
        }

        return parts.Length switch
        {
            2 => SimResponse.JsonBody(200, SimResponse.Json, w => WriteCollection(w, collection, root, now)),
            3 when parts[2] == "locations" => Locations(collection, root),
            4 when parts[2] == "locations" => Data(request, collection, parts[3], now),
            _ => Detail(404, "Not Found"),
        };
    }

    private SimResponse Data(HttpRequest request, KnmiCollection collection, string locationList, DateTimeOffset now)
    {
        var requested = SplitList(request.Query["parameter-name"].ToString());
        var unknownParameters = requested.Where(p => collection.Find(p) is null).ToArray();
        if (unknownParameters.Length > 0)
        {
            return Detail(400, $"Unknown parameter-name {PythonList(unknownParameters)}");
        }

        var parameters = requested.Length == 0 ? collection.Parameters : requested.Select(p => collection.Find(p)!).ToArray();
        var ids = SplitList(locationList);
        var stations = ids.Select(id => Array.Find(KnmiData.StationTable, s => s.Id == id)).ToArray();
        var unknownStations = ids.Where((_, i) => stations[i] is null).ToArray();
        if (ids.Length == 0 || unknownStations.Length > 0)
        {
            return Detail(400, $"Unknown location-id {PythonList(unknownStations)}");
        }

        var datetime = request.Query["datetime"].ToString();
        if (!TryParseInterval(datetime, out var from, out var to))
        {
            return Detail(400, $"Invalid datetime '{datetime}': expected an instant, 'start/end', 'start/..' or '../end'");
        }

        // Only the time steps inside both the requested interval (closed) and the temporal extent count.
        var first = collection.FirstStamp;
        var last = collection.LastStamp(now);
        var lo = from is { } f && f > first ? f : first;
        var hi = to is { } t && t < last ? t : last;
        long steps = 0;
        DateTimeOffset start = default;
        if (lo <= hi)
        {
            var stepTicks = collection.Step.Ticks;
            var k0 = (lo.UtcTicks - first.UtcTicks + stepTicks - 1) / stepTicks;
            var k1 = (hi.UtcTicks - first.UtcTicks) / stepTicks;
            steps = Math.Max(0, k1 - k0 + 1);
            start = first + TimeSpan.FromTicks(k0 * stepTicks);
        }

        var points = stations.Length * steps * parameters.Length;
        if (points > options.DataPointLimit)
        {
            return Detail(413, $"Maximum number of requested data points exceeded (total_datapoints={points.ToString(CultureInfo.InvariantCulture)})");
        }

        if (steps == 0)
        {
            return Detail(404, "No data found for query");
        }

        var times = new DateTimeOffset[steps];
        for (var i = 0; i < steps; i++)
        {
            times[i] = start + (collection.Step * i);
        }

        var bare = stations.Length == 1 && options.BareCoverageForSingleStation;
        return SimResponse.JsonBody(200, CoverageJson, w =>
        {
            if (bare)
            {
                WriteCoverage(w, stations[0]!, times, parameters, standalone: true);
                return;
            }

            w.WriteStartObject();
            w.WriteString("type", "CoverageCollection");
            w.WriteString("domainType", "PointSeries");
            w.WriteStartArray("coverages");
            foreach (var station in stations)
            {
                WriteCoverage(w, station!, times, parameters, standalone: false);
            }

            w.WriteEndArray();
            WriteParameters(w, parameters);
            WriteReferencing(w);
            w.WriteEndObject();
        });
    }

    private void WriteCoverage(Utf8JsonWriter w, KnmiStation station, DateTimeOffset[] times, KnmiParameter[] parameters, bool standalone)
    {
        w.WriteStartObject();
        w.WriteString("type", "Coverage");
        w.WriteStartObject("domain");
        w.WriteString("type", "Domain");
        w.WriteString("domainType", "PointSeries");
        w.WriteStartObject("axes");
        w.WriteStartObject("x");
        w.WriteStartArray("values");
        w.WriteNumberValue(station.Longitude);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteStartObject("y");
        w.WriteStartArray("values");
        w.WriteNumberValue(station.Latitude);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteStartObject("t");
        w.WriteStartArray("values");
        foreach (var time in times)
        {
            w.WriteStringValue(time.UtcDateTime.ToString(StampFormat, CultureInfo.InvariantCulture));
        }

        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
        if (standalone)
        {
            WriteReferencing(w);
        }

        w.WriteEndObject();
        if (standalone)
        {
            WriteParameters(w, parameters);
        }

        w.WriteStartObject("ranges");
        foreach (var parameter in parameters)
        {
            w.WriteStartObject(parameter.Name);
            w.WriteString("type", "NdArray");
            w.WriteString("dataType", "float");
            w.WriteStartArray("axisNames");
            w.WriteStringValue("t");
            w.WriteStringValue("y");
            w.WriteStringValue("x");
            w.WriteEndArray();
            w.WriteStartArray("shape");
            w.WriteNumberValue(times.Length);
            w.WriteNumberValue(1);
            w.WriteNumberValue(1);
            w.WriteEndArray();
            w.WriteStartArray("values");
            foreach (var time in times)
            {
                if (KnmiData.Value(options.Seed, station.Id, time, parameter.Name) is { } value)
                {
                    w.WriteNumberValue(value);
                }
                else
                {
                    w.WriteNullValue();
                }
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndObject();
        w.WriteString("eumetnet:locationId", station.Id);
        w.WriteEndObject();
    }

    private static void WriteParameters(Utf8JsonWriter w, KnmiParameter[] parameters)
    {
        w.WriteStartObject("parameters");
        foreach (var p in parameters)
        {
            w.WritePropertyName(p.Name);
            WriteParameter(w, p);
        }

        w.WriteEndObject();
    }

    private static void WriteParameter(Utf8JsonWriter w, KnmiParameter p)
    {
        w.WriteStartObject();
        w.WriteString("type", "Parameter");
        w.WriteString("id", p.Name);
        w.WriteString("label", p.Label);
        w.WriteStartObject("description");
        w.WriteString("en", p.Label);
        w.WriteEndObject();
        w.WriteStartObject("observedProperty");
        w.WriteString("id", p.Name);
        w.WriteStartObject("label");
        w.WriteString("en", p.Label);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteStartObject("unit");
        w.WriteStartObject("label");
        w.WriteString("en", p.Unit);
        w.WriteEndObject();
        w.WriteStartObject("symbol");
        w.WriteString("type", "http://www.opengis.net/def/uom/UCUM/");
        w.WriteString("value", p.Unit);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteReferencing(Utf8JsonWriter w)
    {
        w.WriteStartArray("referencing");
        w.WriteStartObject();
        w.WriteStartArray("coordinates");
        w.WriteStringValue("x");
        w.WriteStringValue("y");
        w.WriteEndArray();
        w.WriteStartObject("system");
        w.WriteString("type", "GeographicCRS");
        w.WriteString("id", Crs84);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteStartObject();
        w.WriteStartArray("coordinates");
        w.WriteStringValue("t");
        w.WriteEndArray();
        w.WriteStartObject("system");
        w.WriteString("type", "TemporalRS");
        w.WriteString("calendar", "Gregorian");
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndArray();
    }

    private static void WriteCollection(Utf8JsonWriter w, KnmiCollection c, string root, DateTimeOffset now)
    {
        var self = $"{root}/collections/{c.Id}";
        w.WriteStartObject();
        w.WriteString("id", c.Id);
        w.WriteString("title", c.Title);
        w.WriteStartArray("links");
        WriteLink(w, self, "self");
        w.WriteEndArray();
        w.WriteStartObject("extent");
        w.WriteStartObject("spatial");
        w.WriteStartArray("bbox");
        w.WriteStartArray();
        foreach (var v in new[] { 3.3, 50.6, 7.3, 53.6 })
        {
            w.WriteNumberValue(v);
        }

        w.WriteEndArray();
        w.WriteEndArray();
        w.WriteString("crs", Crs84);
        w.WriteEndObject();
        w.WriteStartObject("temporal");
        w.WriteStartArray("interval");
        w.WriteStartArray();
        w.WriteStringValue(c.FirstStamp.UtcDateTime.ToString(StampFormat, CultureInfo.InvariantCulture));
        w.WriteStringValue(c.LastStamp(now).UtcDateTime.ToString(StampFormat, CultureInfo.InvariantCulture));
        w.WriteEndArray();
        w.WriteEndArray();
        w.WriteStartArray("values");
        w.WriteStringValue($"R/{c.FirstStamp.UtcDateTime.ToString(StampFormat, CultureInfo.InvariantCulture)}/{c.Period}");
        w.WriteEndArray();
        w.WriteString("trs", "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian");
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteStartObject("data_queries");
        foreach (var query in new[] { "locations", "cube", "position", "area" })
        {
            w.WriteStartObject(query);
            w.WriteStartObject("link");
            w.WriteString("href", $"{self}/{query}");
            w.WriteString("rel", "data");
            w.WriteStartObject("variables");
            w.WriteString("query_type", query);
            w.WriteStartArray("output_formats");
            w.WriteStringValue("CoverageJSON");
            w.WriteStringValue("NetCDF4");
            w.WriteEndArray();
            w.WriteString("default_output_format", "CoverageJSON");
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        }

        w.WriteEndObject();
        w.WriteStartArray("crs");
        w.WriteStringValue(Crs84);
        w.WriteEndArray();
        w.WriteStartArray("output_formats");
        w.WriteStringValue("CoverageJSON");
        w.WriteStringValue("NetCDF4");
        w.WriteEndArray();
        w.WriteStartObject("parameter_names");
        foreach (var p in c.Parameters)
        {
            w.WritePropertyName(p.Name);
            WriteParameter(w, p);
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static SimResponse Locations(KnmiCollection collection, string root) =>
        SimResponse.JsonBody(200, "application/geo+json", w =>
        {
            w.WriteStartObject();
            w.WriteString("type", "FeatureCollection");
            w.WriteStartArray("features");
            foreach (var s in KnmiData.StationTable)
            {
                w.WriteStartObject();
                w.WriteString("type", "Feature");
                w.WriteString("id", s.Id);
                w.WriteStartObject("geometry");
                w.WriteString("type", "Point");
                w.WriteStartArray("coordinates");
                w.WriteNumberValue(s.Longitude);
                w.WriteNumberValue(s.Latitude);
                w.WriteEndArray();
                w.WriteEndObject();
                w.WriteStartObject("properties");
                w.WriteString("name", s.Name);
                w.WriteString("detail", $"https://oscar.wmo.int/surface/rest/api/search/station?wigosId={s.Id}");
                w.WriteStartArray("parameter-name");
                foreach (var p in collection.Parameters)
                {
                    w.WriteStringValue(p.Name);
                }

                w.WriteEndArray();
                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartArray("links");
            WriteLink(w, $"{root}/collections/{collection.Id}/locations", "self");
            w.WriteEndArray();
            w.WriteEndObject();
        });

    private static void WriteLink(Utf8JsonWriter w, string href, string rel)
    {
        w.WriteStartObject();
        w.WriteString("href", href);
        w.WriteString("rel", rel);
        w.WriteEndObject();
    }

    internal static bool TryParseInterval(string value, out DateTimeOffset? from, out DateTimeOffset? to)
    {
        from = null;
        to = null;
        if (value.Length == 0)
        {
            return true; // no filter: the whole temporal extent
        }

        var slash = value.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            if (!TryParseInstant(value, out var instant))
            {
                return false;
            }

            from = to = instant;
            return true;
        }

        var left = value[..slash];
        var right = value[(slash + 1)..];
        if (left != "..")
        {
            if (!TryParseInstant(left, out var f))
            {
                return false;
            }

            from = f;
        }

        if (right != "..")
        {
            if (!TryParseInstant(right, out var t))
            {
                return false;
            }

            to = t;
        }

        return from is null || to is null || from <= to;
    }

    private static bool TryParseInstant(string value, out DateTimeOffset instant) =>
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out instant);

    private static string[] SplitList(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string PythonList(IEnumerable<string> items)
    {
        var sb = new StringBuilder("[");
        foreach (var item in items)
        {
            if (sb.Length > 1)
            {
                sb.Append(", ");
            }

            sb.Append('\'').Append(item).Append('\'');
        }

        return sb.Append(']').ToString();
    }

    private bool TrySplit(PathString path, out string[] parts)
    {
        parts = [];
        var value = path.Value ?? string.Empty;
        if (!value.StartsWith(BasePath, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = value[BasePath.Length..];
        if (rest.Length > 0 && rest[0] != '/')
        {
            return false;
        }

        parts = rest.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return true;
    }

    private static SimResponse Gateway(int status, string message) =>
        SimResponse.Text(status, SimResponse.Json, $$"""{"error": "{{message}}"}""");

    private static SimResponse Detail(int status, string message) => SimResponse.Message(status, "detail", message);
}
