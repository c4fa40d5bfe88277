using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;

namespace Ingot.Simulators;

/// <summary>NOAA NCEI CDO v2 behind Apache: JSON bodies with odd spacing, XML 400 faults, bare <c>{}</c> for no data.</summary>
internal sealed partial class NoaaApi(SimulatorOptions options) : ISimApi
{
    public const string JsonUtf8 = "application/json;charset=UTF-8";
    private const string DateFormat = "yyyy-MM-dd'T'HH:mm:ss";

    private static readonly (string Id, string Name, string MinDate, string MaxDate, double Coverage, string Uid)[] Datasets =
    [
        ("GHCND", "Daily Summaries", "1750-02-01", "2025-11-20", 1, "gov.noaa.ncdc:C00861"),
        ("PRECIP_15", "Precipitation 15 Minute", "1970-05-12", "2014-01-01", 0.25, "gov.noaa.ncdc:C00505"),
        ("PRECIP_HLY", "Precipitation Hourly", "1900-01-01", "2014-01-01", 1, "gov.noaa.ncdc:C00313"),
    ];

    public string BasePath => "/cdo-web/api/v2";

    public double DefaultRateLimit => 5;

    public long? DefaultQuota => 10_000;

    public TimeSpan QuotaWindow => TimeSpan.FromDays(1);

    public bool QuotaBeforeRateLimit => true;

    public bool EmitsRateLimitHeaders => false;

    public FaultKinds SupportedFaults => FaultKinds.All;

    public bool IsDataRequest(PathString path) => Rest(path) is "/data" or "/data/";

    public SimResponse? CheckAuth(HttpRequest request) =>
        request.Headers["token"].ToString() == options.ApiKey
            ? null
            : Status(400, "The token parameter provided is not valid.");

    public SimResponse RateLimited()
    {
        var limit = options.RateLimitPerSecond is { } r && r > 0 && !double.IsInfinity(r) ? r : DefaultRateLimit;
        return Status(429, $"This token has reached its temporary request limit of {limit.ToString(CultureInfo.InvariantCulture)} per second.");
    }

    public SimResponse QuotaExceeded(long quota) =>
        Status(429, $"This token has reached its request limit of {quota.ToString(CultureInfo.InvariantCulture)} per day.");

    public SimResponse Overloaded() => SimResponse.Text(503, "text/html; charset=iso-8859-1", """
        <!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
        <html><head>
        <title>503 Service Unavailable</title>
        </head><body>
        <h1>Service Unavailable</h1>
        <p>The server is temporarily unable to service your
        request due to maintenance downtime or capacity
        problems. Please try again later.</p>
        </body></html>
        """);

    public SimResponse Fault(FaultKinds kind, Random random, HttpRequest request) => kind switch
    {
        FaultKinds.ServerError5xx => SimResponse.Text(500, JsonUtf8,
            """{"statusCode":"500","userMessage":"An error occured while servicing your request.","developerMessage":"An error occured while servicing your request."}"""),
        FaultKinds.TooManyRequests429 => RateLimited(),
        FaultKinds.TooManyRequests429RetryAfter => RateLimited() with { RetryAfter = TimeSpan.FromSeconds(options.RetryAfterSeconds) },
        FaultKinds.HtmlPage when random.Next(2) == 0 => SimResponse.Text(200, "text/html;charset=UTF-8", """
            <!DOCTYPE html>
            <html lang="en"><head><title>Climate Data Online - Scheduled Maintenance</title></head>
            <body><h1>Climate Data Online is temporarily unavailable</h1>
            <p>The CDO web services are undergoing scheduled maintenance (planned shutdown). Please try again later.</p>
            </body></html>
            """),
        FaultKinds.HtmlPage => SimResponse.Text(502, "text/html; charset=iso-8859-1", $"""
            <!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
            <html><head>
            <title>502 Proxy Error</title>
            </head><body>
            <h1>Proxy Error</h1>
            <p>The proxy server received an invalid
            response from an upstream server.<br />
            The proxy server could not handle the request <em><a href="{request.Path}">GET&nbsp;{request.Path}</a></em>.<p>
            Reason: <strong>Error reading from remote server</strong></p></p>
            </body></html>
            """),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Not a response fault."),
    };

    public SimResponse Handle(HttpRequest request, DateTimeOffset now)
    {
        var rest = (Rest(request.Path) ?? string.Empty).TrimEnd('/');
        var parts = rest.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return parts switch
        {
            ["data"] => Data(request.Query),
            ["datasets"] => List(Datasets.Length, request.Query, (w, i) => WriteDataset(w, i)),
            ["datasets", var id] => Array.FindIndex(Datasets, d => d.Id == id) is var i and >= 0
                ? Json(w => WriteDataset(w, i))
                : Empty(),
            ["stations"] => List(NoaaData.StationTable.Length, request.Query, (w, i) => WriteStation(w, NoaaData.StationTable[i])),
            ["stations", var id] => Array.Find(NoaaData.StationTable, s => s.Id == id) is { } station
                ? Json(w => WriteStation(w, station))
                : Empty(),
            _ => SimResponse.Text(404, "text/html;charset=utf-8", "<html><body><h1>HTTP Status 404 - Not Found</h1></body></html>"),
        };
    }

    private SimResponse Data(IQueryCollection query)
    {
        var datasets = query["datasetid"];
        if (datasets.Count != 1 || string.IsNullOrEmpty(datasets[0]))
        {
            return XmlFault("Data requests require exactly one datasetid.");
        }

        if (!TryDate(query, "startdate", "Start", out var start, out var fault) || !TryDate(query, "enddate", "End", out var end, out fault))
        {
            return fault!;
        }

        var limit = Int(query, "limit", 25);
        if (limit > 1000)
        {
            return XmlFault("Limit may not exceed 1000.");
        }

        if (end >= start.AddYears(1))
        {
            return XmlFault("The date range must be less than 1 year.");
        }

        if (limit < 1)
        {
            limit = 25;
        }

        var offset = Math.Max(1, Int(query, "offset", 1));
        if (!string.Equals(datasets[0], "PRECIP_15", StringComparison.Ordinal) || end < start)
        {
            return Empty();
        }

        var records = NoaaData.Records(options.Seed, query["stationid"].OfType<string>(), query["datatypeid"].OfType<string>(), start, end, query["units"].ToString());
        if (offset > records.Count)
        {
            return Empty();
        }

        var page = records.Skip(offset - 1).Take(limit);
        var metadata = !string.Equals(query["includemetadata"].ToString(), "false", StringComparison.OrdinalIgnoreCase);
        return Json(w =>
        {
            w.WriteStartObject();
            if (metadata)
            {
                WriteResultSet(w, offset, records.Count, limit);
            }

            w.WriteStartArray("results");
            foreach (var r in page)
            {
                w.WriteStartObject();
                w.WriteString("date", r.Date.ToString(DateFormat, CultureInfo.InvariantCulture));
                w.WriteString("datatype", r.DataType);
                w.WriteString("station", r.Station);
                w.WriteString("attributes", r.Attributes);
                w.WriteNumber("value", r.Value);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static bool TryDate(IQueryCollection query, string name, string label, out DateTime value, out SimResponse? fault)
    {
        value = default;
        fault = null;
        var text = query[name].ToString();
        if (text.Length == 0)
        {
            fault = XmlFault($"Required parameter '{name}' is missing.");
            return false;
        }

        // Only YYYY-MM-DD or YYYY-MM-DDThh:mm:ss: a zone ('Z', offsets) or fractions are rejected.
        if (!IsoDate().IsMatch(text) || !DateTime.TryParseExact(text, ["yyyy-MM-dd", DateFormat], CultureInfo.InvariantCulture, DateTimeStyles.None, out value))
        {
            fault = XmlFault($"{label} date is required and must be in ISO format.");
            return false;
        }

        return true;
    }

    private static SimResponse List(int total, IQueryCollection query, Action<Utf8JsonWriter, int> writeItem)
    {
        var limit = Math.Clamp(Int(query, "limit", 25), 1, 1000);
        var offset = Math.Max(1, Int(query, "offset", 1));
        if (offset > total)
        {
            return Empty();
        }

        return Json(w =>
        {
            w.WriteStartObject();
            WriteResultSet(w, offset, total, limit);
            w.WriteStartArray("results");
            for (var i = offset - 1; i < Math.Min(total, offset - 1 + limit); i++)
            {
                writeItem(w, i);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static void WriteResultSet(Utf8JsonWriter w, int offset, int count, int limit)
    {
        w.WriteStartObject("metadata");
        w.WriteStartObject("resultset");
        w.WriteNumber("offset", offset);
        w.WriteNumber("count", count);
        w.WriteNumber("limit", limit);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteDataset(Utf8JsonWriter w, int index)
    {
        var d = Datasets[index];
        w.WriteStartObject();
        w.WriteString("uid", d.Uid);
        w.WriteString("mindate", d.MinDate);
        w.WriteString("maxdate", d.MaxDate);
        w.WriteString("name", d.Name);
        w.WriteNumber("datacoverage", d.Coverage);
        w.WriteString("id", d.Id);
        w.WriteEndObject();
    }

    private static void WriteStation(Utf8JsonWriter w, NoaaStation s)
    {
        w.WriteStartObject();
        w.WriteNumber("elevation", s.Elevation);
        w.WriteString("mindate", "1970-05-12");
        w.WriteString("maxdate", "2014-01-01");
        w.WriteNumber("latitude", s.Latitude);
        w.WriteString("name", s.Name);
        w.WriteNumber("datacoverage", 0.8813);
        w.WriteString("id", s.Id);
        w.WriteString("elevationUnit", "METERS");
        w.WriteNumber("longitude", s.Longitude);
        w.WriteEndObject();
    }

    private static int Int(IQueryCollection query, string name, int fallback) =>
        int.TryParse(query[name].ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : fallback;

    private string? Rest(PathString path)
    {
        var value = path.Value ?? string.Empty;
        return value.StartsWith(BasePath, StringComparison.Ordinal) ? value[BasePath.Length..] : null;
    }

    private static SimResponse Json(Action<Utf8JsonWriter> write) => SimResponse.JsonBody(200, JsonUtf8, write);

    private static SimResponse Empty() => SimResponse.Text(200, JsonUtf8, "{}");

    private static SimResponse Status(int status, string message) =>
        SimResponse.Text(status, JsonUtf8, $$"""{"status" : "{{status.ToString(CultureInfo.InvariantCulture)}}", "message" : "{{message}}"}""");

    internal static SimResponse XmlFault(string developerMessage) => SimResponse.Text(400, "application/xml",
        $"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?><response><statusCode>400</statusCode><userMessage>There was an error with the request.</userMessage><developerMessage>{developerMessage}</developerMessage></response>""");

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2})?$", RegexOptions.CultureInvariant)]
    private static partial Regex IsoDate();
}
