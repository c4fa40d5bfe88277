using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Ingot.Simulators;

/// <summary>
/// The e-commerce APIs of system C, like the payment and shipping providers they stand for:
/// <list type="bullet">
/// <item><c>GET /v1/payments?since=&amp;cursor=&amp;limit=</c> — <c>x-api-key</c> header; <c>{"data":[…],"meta":{"next_cursor":…,"has_more":…}}</c>, keyset cursor over (updated_at, id).</item>
/// <item><c>GET /v1/shipments?since=&amp;page=&amp;per_page=</c> — <c>Authorization: Bearer</c> (the static token or one from <c>POST /oauth/token</c>); <c>{"shipments":[…],"meta":{"page","per_page","total","total_pages"}}</c>.</item>
/// <item><c>POST /oauth/token</c> — client credentials (form body or HTTP Basic), <c>{"access_token","token_type","expires_in"}</c>.</item>
/// <item><c>/admin/*</c> — test control, no auth: <c>POST tick?minutes=&amp;updates=&amp;inserts=</c>, <c>POST down|up?api=</c>, <c>POST revoke-tokens</c>, <c>POST payments|shipments</c> (upsert a JSON record), <c>GET state</c>.</item>
/// </list>
/// <c>since</c> is inclusive and takes ISO 8601 with an offset; errors are JSON <c>{"error","message"}</c> (401 on a bad key or token).
/// </summary>
internal sealed class ShopApi(SimulatorOptions options, ShopOptions shop, ShopData data) : ISimApi
{
    private const string Json = "application/json; charset=utf-8";
    private readonly string _paymentsKey = shop.PaymentsKey ?? options.ApiKey;
    private readonly string _shipmentsToken = shop.ShipmentsToken ?? options.ApiKey;
    private readonly string _clientSecret = shop.ClientSecret ?? options.ApiKey;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _tokens = new(StringComparer.Ordinal);
    private int _tokenRequests;

    public string BasePath => "";

    public double DefaultRateLimit => 100;

    public long? DefaultQuota => null;

    public TimeSpan QuotaWindow => TimeSpan.FromDays(1);

    public bool QuotaBeforeRateLimit => false;

    public bool EmitsRateLimitHeaders => true;

    public FaultKinds SupportedFaults => FaultKinds.ServerError5xx | FaultKinds.TooManyRequests429 | FaultKinds.TooManyRequests429RetryAfter | FaultKinds.ConnectionReset | FaultKinds.TruncatedBody;

    public int TokenRequests => Volatile.Read(ref _tokenRequests);

    public ShopData Data => data;

    public bool IsDataRequest(PathString path) => Api(path) is not null;

    public bool IsAdminRequest(PathString path) => path.StartsWithSegments("/admin", StringComparison.Ordinal);

    private static ShopApiKind? Api(PathString path) =>
        path.Value?.TrimEnd('/') switch
        {
            "/v1/payments" => ShopApiKind.Payments,
            "/v1/shipments" => ShopApiKind.Shipments,
            _ => null,
        };

    public SimResponse? CheckAuth(HttpRequest request)
    {
        switch (Api(request.Path))
        {
            case ShopApiKind.Payments:
            {
                var key = request.Headers["x-api-key"].ToString();
                if (key.Length == 0) return Error(401, "unauthorized", "No API key provided. Send it in the x-api-key header.");
                return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(_paymentsKey)) ? null : Error(401, "unauthorized", "Invalid API key provided.");
            }
            case ShopApiKind.Shipments:
            {
                var header = request.Headers.Authorization.ToString();
                var token = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : null;
                if (token == _shipmentsToken || token is not null && _tokens.TryGetValue(token, out var expires) && options.TimeProvider.GetUtcNow() < expires) return null;
                return Error(401, "invalid_token", token is null ? "Missing bearer token." : "The access token is invalid or has expired.") with
                {
                    Headers = [new("WWW-Authenticate", token is null ? "Bearer realm=\"shipments\"" : "Bearer realm=\"shipments\", error=\"invalid_token\"")],
                };
            }
            default:
                return null;
        }
    }

    public SimResponse RateLimited() =>
        Error(429, "rate_limited", "Too many requests; slow down and retry after the Retry-After interval.") with { RetryAfter = TimeSpan.FromSeconds(options.RetryAfterSeconds) };

    public SimResponse QuotaExceeded(long quota) => Error(429, "quota_exceeded", $"Quota exceeded: {quota.ToString(CultureInfo.InvariantCulture)} requests a day.");

    public SimResponse Overloaded() => Error(503, "overloaded", "The service is overloaded; retry later.") with { RetryAfter = TimeSpan.FromSeconds(options.RetryAfterSeconds) };

    public SimResponse Fault(FaultKinds kind, Random random, HttpRequest request) => kind switch
    {
        FaultKinds.ServerError5xx => random.Next(3) switch
        {
            0 => Error(500, "internal_error", "An unexpected error occurred."),
            1 => SimResponse.Text(502, "text/html", "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"),
            _ => Error(503, "service_unavailable", "The service is temporarily unavailable."),
        },
        FaultKinds.TooManyRequests429 => RateLimited() with { RetryAfter = null },
        FaultKinds.TooManyRequests429RetryAfter => RateLimited(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Not a response fault."),
    };

    public SimResponse Handle(HttpRequest request, DateTimeOffset now) =>
        Api(request.Path) switch
        {
            _ when request.Method != HttpMethods.Get && Api(request.Path) is not null => Error(405, "method_not_allowed", $"{request.Method} is not allowed here."),
            { } api when data.IsDown(api) => Error(503, "service_unavailable", $"The {api.ToString().ToLowerInvariant()} API is temporarily unavailable.") with { RetryAfter = TimeSpan.FromSeconds(options.RetryAfterSeconds) },
            ShopApiKind.Payments => Payments(request.Query),
            ShopApiKind.Shipments => Shipments(request.Query),
            _ => Error(404, "not_found", $"No route for {request.Method} {request.Path}."),
        };

    public async ValueTask<SimResponse> HandleAsync(HttpRequest request, DateTimeOffset now)
    {
        var path = request.Path.Value?.TrimEnd('/') ?? "";
        if (path == "/oauth/token") return await TokenAsync(request).ConfigureAwait(false);
        if (IsAdminRequest(request.Path)) return await AdminAsync(request, path).ConfigureAwait(false);
        return Handle(request, now);
    }

    private SimResponse Payments(IQueryCollection query)
    {
        if (!Since(query, out var since, out var fault)) return fault!;
        if (!Int(query, "limit", 50, 1, 200, out var limit, out fault)) return fault!;
        var rows = data.Rows(ShopApiKind.Payments, shop.IgnoreSince ? null : since);
        var start = 0;
        if (query["cursor"].ToString() is { Length: > 0 } cursor)
        {
            if (!TryCursor(cursor, out var at, out var id)) return Error(400, "invalid_request", "cursor is not a cursor this API issued.");
            // Keyset: the first record after (updated_at, id) of the previous page's last record.
            start = rows.FindIndex(r => r.UpdatedAt > at || r.UpdatedAt == at && string.CompareOrdinal(r.Id, id) > 0);
            if (start < 0) start = rows.Count;
        }
        var page = rows.Skip(start).Take(limit).ToList();
        var more = start + page.Count < rows.Count;
        return List("data", page, w =>
        {
            w.WriteNumber("count", page.Count);
            w.WriteBoolean("has_more", more);
            if (more) w.WriteString("next_cursor", Cursor(page[^1]));
            else w.WriteNull("next_cursor");
        });
    }

    private SimResponse Shipments(IQueryCollection query)
    {
        if (!Since(query, out var since, out var fault)) return fault!;
        if (!Int(query, "page", 1, 1, int.MaxValue, out var page, out fault)) return fault!;
        if (!Int(query, "per_page", 25, 1, 100, out var perPage, out fault)) return fault!;
        var rows = data.Rows(ShopApiKind.Shipments, shop.IgnoreSince ? null : since);
        var slice = rows.Skip((int)Math.Min(int.MaxValue, (long)(page - 1) * perPage)).Take(perPage).ToList();
        return List("shipments", slice, w =>
        {
            w.WriteNumber("page", page);
            w.WriteNumber("per_page", perPage);
            w.WriteNumber("total", rows.Count);
            w.WriteNumber("total_pages", (rows.Count + perPage - 1) / perPage);
        });
    }

    /// <summary><c>{"&lt;name&gt;":[…records…],"meta":{…}}</c>.</summary>
    private static SimResponse List(string name, List<ShopData.Row> rows, Action<Utf8JsonWriter> meta) =>
        SimResponse.JsonBody(200, Json, w =>
        {
            w.WriteStartObject();
            w.WriteStartArray(name);
            foreach (var r in rows) r.Json.WriteTo(w);
            w.WriteEndArray();
            w.WriteStartObject("meta");
            meta(w);
            w.WriteEndObject();
            w.WriteEndObject();
        });

    private async Task<SimResponse> TokenAsync(HttpRequest request)
    {
        Interlocked.Increment(ref _tokenRequests);
        if (request.Method != HttpMethods.Post) return Error(405, "invalid_request", "Use POST.");
        if (!request.HasFormContentType) return Error(400, "invalid_request", "Send application/x-www-form-urlencoded.");
        var form = await request.ReadFormAsync(request.HttpContext.RequestAborted).ConfigureAwait(false);
        if (form["grant_type"].ToString() != "client_credentials") return Error(400, "unsupported_grant_type", "Only client_credentials is supported.");
        string id = form["client_id"].ToString(), secret = form["client_secret"].ToString();
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var pair = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim()));
                var colon = pair.IndexOf(':', StringComparison.Ordinal);
                (id, secret) = colon < 0 ? (pair, "") : (Uri.UnescapeDataString(pair[..colon]), Uri.UnescapeDataString(pair[(colon + 1)..]));
            }
            catch (FormatException)
            {
                return Error(401, "invalid_client", "Client authentication failed.");
            }
        }
        if (id != shop.ClientId || secret != _clientSecret) return Error(401, "invalid_client", "Client authentication failed.");
        var token = $"tok_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))}";
        _tokens[token] = options.TimeProvider.GetUtcNow() + shop.TokenLifetime;
        return SimResponse.JsonBody(200, Json, w =>
        {
            w.WriteStartObject();
            w.WriteString("access_token", token);
            w.WriteString("token_type", "Bearer");
            w.WriteNumber("expires_in", (long)shop.TokenLifetime.TotalSeconds);
            w.WriteEndObject();
        });
    }

    private async Task<SimResponse> AdminAsync(HttpRequest request, string path)
    {
        var query = request.Query;
        switch (request.Method, path)
        {
            case ("GET", "/admin/state"):
                return State();
            case ("POST", "/admin/tick"):
            {
                if (!Int(query, "minutes", 60, 1, 525_600, out var minutes, out var fault)) return fault!;
                if (!Int(query, "updates", 10, 0, 1_000_000, out var updates, out fault)) return fault!;
                if (!Int(query, "inserts", 0, 0, 1_000_000, out var inserts, out fault)) return fault!;
                var tick = data.Tick(TimeSpan.FromMinutes(minutes), updates, inserts);
                return SimResponse.JsonBody(200, Json, w => JsonSerializer.Serialize(w, new
                {
                    now = tick.Now.ToString("O", CultureInfo.InvariantCulture),
                    payments = new { updated = tick.UpdatedPayments, inserted = tick.InsertedPayments },
                    shipments = new { updated = tick.UpdatedShipments, inserted = tick.InsertedShipments },
                }));
            }
            case ("POST", "/admin/down" or "/admin/up"):
            {
                if (!Enum.TryParse<ShopApiKind>(query["api"].ToString(), ignoreCase: true, out var api) || !Enum.IsDefined(api))
                    return Error(400, "invalid_request", "api must be payments or shipments.");
                data.SetDown(api, path == "/admin/down");
                return State();
            }
            case ("POST", "/admin/revoke-tokens"):
                _tokens.Clear();
                return State();
            case ("POST", "/admin/payments" or "/admin/shipments"):
            {
                var api = path == "/admin/payments" ? ShopApiKind.Payments : ShopApiKind.Shipments;
                JsonObject? fields;
                try
                {
                    fields = await JsonNode.ParseAsync(request.Body, cancellationToken: request.HttpContext.RequestAborted).ConfigureAwait(false) as JsonObject;
                }
                catch (JsonException e)
                {
                    return Error(400, "invalid_request", $"The body is not JSON: {e.Message}");
                }
                if (fields is null) return Error(400, "invalid_request", "The body must be a JSON object.");
                try
                {
                    var record = data.Upsert(api, fields);
                    return SimResponse.JsonBody(200, Json, w => record.WriteTo(w));
                }
                catch (ArgumentException e)
                {
                    return Error(400, "invalid_request", e.Message);
                }
            }
            default:
                return Error(404, "not_found", $"No admin route for {request.Method} {path}.");
        }
    }

    private SimResponse State() => SimResponse.JsonBody(200, Json, w => JsonSerializer.Serialize(w, new
    {
        now = data.Now.ToString("O", CultureInfo.InvariantCulture),
        payments = data.PaymentCount,
        shipments = data.ShipmentCount,
        down = Enum.GetValues<ShopApiKind>().Where(data.IsDown).Select(a => a.ToString().ToLowerInvariant()),
        token_requests = TokenRequests,
    }));

    private static bool Since(IQueryCollection query, out DateTimeOffset? since, out SimResponse? fault)
    {
        since = null;
        fault = null;
        var text = query["since"].ToString();
        if (text.Length == 0) return true;
        // ISO 8601 with Z or an offset; a bare local time is ambiguous and refused, as the real providers do.
        if (!text.Contains('T', StringComparison.Ordinal) || !(text.EndsWith('Z') || text.Length > 6 && text[^6] is '+' or '-')
            || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var t))
        {
            fault = Error(400, "invalid_request", $"since must be an ISO 8601 timestamp with a zone, like 2024-01-15T10:30:00Z (got '{text}').");
            return false;
        }
        since = t;
        return true;
    }

    private static bool Int(IQueryCollection query, string name, int fallback, int min, int max, out int value, out SimResponse? fault)
    {
        fault = null;
        value = fallback;
        var text = query[name].ToString();
        if (text.Length == 0) return true;
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= min && value <= max) return true;
        fault = Error(400, "invalid_request", $"{name} must be a whole number from {min} to {max} (got '{text}').");
        return false;
    }

    private static string Cursor(ShopData.Row row) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{row.UpdatedAt.UtcTicks.ToString(CultureInfo.InvariantCulture)}:{row.Id}")).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static bool TryCursor(string cursor, out DateTimeOffset at, out string id)
    {
        at = default;
        id = "";
        try
        {
            var b64 = cursor.Replace('-', '+').Replace('_', '/');
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(b64.PadRight(b64.Length + (4 - b64.Length % 4) % 4, '=')));
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0 || !long.TryParse(text[..colon], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)) return false;
            at = new DateTimeOffset(ticks, TimeSpan.Zero);
            id = text[(colon + 1)..];
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
        catch (ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    private static SimResponse Error(int status, string error, string message) =>
        SimResponse.JsonBody(status, Json, w =>
        {
            w.WriteStartObject();
            w.WriteString("error", error);
            w.WriteString("message", message);
            w.WriteEndObject();
        });
}
