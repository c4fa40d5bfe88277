using System.Globalization;
using System.Text.Json.Nodes;

namespace Ingot.Simulators;

/// <summary>The two APIs of the shop simulator.</summary>
public enum ShopApiKind
{
    /// <summary><c>GET /v1/payments</c>: cursor pages, api-key header.</summary>
    Payments,

    /// <summary><c>GET /v1/shipments</c>: page numbers, bearer token.</summary>
    Shipments,
}

/// <summary>Shop-only settings beside <see cref="SimulatorOptions"/>.</summary>
public sealed class ShopOptions
{
    /// <summary>Payments created before the simulated clock starts.</summary>
    public int Payments { get; init; } = 240;

    /// <summary>Shipments created before the simulated clock starts.</summary>
    public int Shipments { get; init; } = 130;

    /// <summary>The simulated clock's start; records are created over the two weeks before it.</summary>
    public DateTimeOffset Start { get; init; } = new(2024, 1, 15, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The payments API key (x-api-key); null: <see cref="SimulatorOptions.ApiKey"/>.</summary>
    public string? PaymentsKey { get; init; }

    /// <summary>The static shipments bearer token; null: <see cref="SimulatorOptions.ApiKey"/>.</summary>
    public string? ShipmentsToken { get; init; }

    /// <summary>OAuth 2.0 client credentials accepted by <c>POST /oauth/token</c> (tokens it issues also open the shipments API).</summary>
    public string ClientId { get; init; } = "sim-client";

    /// <summary>null: <see cref="SimulatorOptions.ApiKey"/>.</summary>
    public string? ClientSecret { get; init; }

    /// <summary><c>expires_in</c> of issued tokens; they stop working after it (by <see cref="SimulatorOptions.TimeProvider"/>).</summary>
    public TimeSpan TokenLifetime { get; init; } = TimeSpan.FromHours(1);

    /// <summary>APIs that answer 503 from the start (<c>--down</c>); <c>POST /admin/up</c> brings them back.</summary>
    public IReadOnlyCollection<ShopApiKind> Down { get; init; } = [];

    /// <summary>Behave like an API that ignores <c>since</c> (every record, every time): clients must filter.</summary>
    public bool IgnoreSince { get; init; }
}

/// <summary>What one <see cref="ShopData.Tick"/> changed.</summary>
public sealed record ShopTick(DateTimeOffset Now, IReadOnlyList<string> UpdatedPayments, IReadOnlyList<string> InsertedPayments,
    IReadOnlyList<string> UpdatedShipments, IReadOnlyList<string> InsertedShipments);

/// <summary>
/// The shop's records over simulated time, deterministic by seed: payments and shipments created before the clock's
/// start, then changed by ticks (each tick advances the clock and gives some records a new version stamped inside the
/// tick, and adds new ones). Tests and examples change records through <see cref="Tick"/>, <see cref="Upsert"/> or the
/// admin endpoints. Every timestamp is ISO 8601 with an offset: payments in UTC (<c>+00:00</c>), shipments in CET (<c>+01:00</c>).
/// </summary>
public sealed class ShopData
{
    private static readonly string[] Methods = ["card", "ideal", "paypal", "bank_transfer"];
    private static readonly string[] Countries = ["NL", "BE", "DE", "FR", "LU"];
    private static readonly string[] Carriers = ["postnl", "dhl", "dpd", "ups"];
    private static readonly string[] PaymentFlow = ["pending", "paid", "refunded"];
    private static readonly string[] ShipmentFlow = ["label_created", "in_transit", "out_for_delivery", "delivered", "returned"];
    internal static readonly TimeSpan ShipmentOffset = TimeSpan.FromHours(1);

    private readonly Lock _lock = new();
    private readonly int _seed;
    private readonly Dictionary<string, Row> _payments = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Row> _shipments = new(StringComparer.Ordinal);
    private readonly HashSet<ShopApiKind> _down;
    private int _ticks;

    /// <summary>A record's current version: the JSON served, and its sort key.</summary>
    internal sealed record Row(string Id, DateTimeOffset UpdatedAt, JsonObject Json);

    public ShopData(int seed, ShopOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _seed = seed;
        Now = options.Start;
        _down = [.. options.Down];
        var random = new Random(seed);
        for (var i = 1; i <= options.Payments; i++) Put(_payments, NewPayment(random, i, options.Start - TimeSpan.FromSeconds(random.Next(1, 14 * 86_400))));
        for (var i = 1; i <= options.Shipments; i++) Put(_shipments, NewShipment(random, i, options.Start - TimeSpan.FromSeconds(random.Next(1, 14 * 86_400))));
    }

    /// <summary>The simulated clock.</summary>
    public DateTimeOffset Now { get; private set; }

    public int PaymentCount { get { lock (_lock) return _payments.Count; } }

    public int ShipmentCount { get { lock (_lock) return _shipments.Count; } }

    public bool IsDown(ShopApiKind api) { lock (_lock) return _down.Contains(api); }

    public void SetDown(ShopApiKind api, bool down)
    {
        lock (_lock)
        {
            if (down) _down.Add(api);
            else _down.Remove(api);
        }
    }

    /// <summary>
    /// Advances the clock by <paramref name="advance"/>; <paramref name="updates"/> distinct records of each API get a new
    /// version stamped inside the tick (whole minutes, so several share a timestamp), and <paramref name="inserts"/> new
    /// ones are created. The same seed and the same ticks give the same data.
    /// </summary>
    public ShopTick Tick(TimeSpan advance, int updates, int inserts)
    {
        if (advance < TimeSpan.FromMinutes(1)) throw new ArgumentOutOfRangeException(nameof(advance), "a tick advances the clock by at least a minute");
        lock (_lock)
        {
            var random = new Random(HashCode.Combine(_seed, ++_ticks));
            var from = Now;
            Now += advance;
            var minutes = (int)advance.TotalMinutes;
            DateTimeOffset Stamp() => from + TimeSpan.FromMinutes(random.Next(1, minutes + 1));
            var updatedPayments = Update(_payments, random, updates, id => AdvancePayment(_payments[id], Stamp()));
            var insertedPayments = Enumerable.Range(0, inserts).Select(_ => Put(_payments, NewPayment(random, _payments.Count + 1, Stamp())).Id).ToList();
            var updatedShipments = Update(_shipments, random, updates, id => AdvanceShipment(_shipments[id], Stamp()));
            var insertedShipments = Enumerable.Range(0, inserts).Select(_ => Put(_shipments, NewShipment(random, _shipments.Count + 1, Stamp())).Id).ToList();
            return new ShopTick(Now, updatedPayments, insertedPayments, updatedShipments, insertedShipments);
        }
    }

    /// <summary>
    /// Creates or changes one record from <paramref name="fields"/> (which must hold its id: <c>payment_id</c> or
    /// <c>shipment_id</c>): the clock moves on a second (two versions never share a timestamp), the fields are merged
    /// in, <c>version</c> goes up and <c>updated_at</c> is the clock's now.
    /// </summary>
    public JsonObject Upsert(ShopApiKind api, JsonObject fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        var idField = api == ShopApiKind.Payments ? "payment_id" : "shipment_id";
        if (fields[idField]?.GetValueKind() != System.Text.Json.JsonValueKind.String) throw new ArgumentException($"the record needs a string {idField}", nameof(fields));
        lock (_lock)
        {
            var rows = api == ShopApiKind.Payments ? _payments : _shipments;
            var id = fields[idField]!.GetValue<string>();
            Now += TimeSpan.FromSeconds(1);
            var json = rows.TryGetValue(id, out var row) ? (JsonObject)row.Json.DeepClone() : new JsonObject { [idField] = id, ["version"] = 0, ["created_at"] = Iso(api, Now) };
            foreach (var (k, v) in fields) json[k] = v?.DeepClone();
            json["version"] = (json["version"]?.GetValue<int>() ?? 0) + 1;
            json["updated_at"] = Iso(api, Now);
            return (JsonObject)Put(rows, new Row(id, Now, json)).Json.DeepClone();
        }
    }

    /// <summary>The records the API serves for <paramref name="since"/> (inclusive), ordered by (updated_at, id).</summary>
    internal List<Row> Rows(ShopApiKind api, DateTimeOffset? since)
    {
        lock (_lock)
        {
            var rows = api == ShopApiKind.Payments ? _payments : _shipments;
            return [.. rows.Values.Where(r => since is null || r.UpdatedAt >= since).OrderBy(r => r.UpdatedAt).ThenBy(r => r.Id, StringComparer.Ordinal)];
        }
    }

    /// <summary>Every current version as (id, version), for tests that compare the lake with the API.</summary>
    public IReadOnlyList<(string Id, int Version)> Versions(ShopApiKind api) =>
        [.. Rows(api, null).Select(r => (r.Id, r.Json["version"]!.GetValue<int>()))];

    private static Row Put(Dictionary<string, Row> rows, Row row)
    {
        rows[row.Id] = row;
        return row;
    }

    private static List<string> Update(Dictionary<string, Row> rows, Random random, int count, Func<string, Row> change)
    {
        var ids = rows.Keys.Order(StringComparer.Ordinal).ToArray();
        random.Shuffle(ids);
        var picked = ids.Take(Math.Min(count, ids.Length)).Order(StringComparer.Ordinal).ToList();
        foreach (var id in picked) rows[id] = change(id);
        return picked;
    }

    internal static string Iso(ShopApiKind api, DateTimeOffset t) =>
        (api == ShopApiKind.Payments ? t.ToUniversalTime() : t.ToOffset(ShipmentOffset)).ToString("yyyy-MM-dd'T'HH:mm:ss.FFFzzz", CultureInfo.InvariantCulture);

    private static Row NewPayment(Random random, int n, DateTimeOffset created)
    {
        var id = $"pay_{n:D6}";
        var status = random.Next(10) < 7 ? "paid" : random.Next(2) == 0 ? "pending" : "failed";
        var json = new JsonObject
        {
            ["payment_id"] = id,
            ["order_id"] = $"ord_{100_000 + n * 7 % 90_000:D6}",
            ["customer"] = new JsonObject { ["id"] = $"cus_{random.Next(1, 5000):D5}", ["country"] = Countries[random.Next(Countries.Length)] },
            ["amount"] = new JsonObject { ["value"] = Math.Round(random.Next(500, 50_000) / 100.0, 2), ["currency"] = "EUR" },
            ["method"] = Methods[random.Next(Methods.Length)],
            ["status"] = status,
            ["created_at"] = Iso(ShopApiKind.Payments, created),
            ["paid_at"] = status == "paid" ? Iso(ShopApiKind.Payments, created + TimeSpan.FromSeconds(random.Next(2, 90))) : null,
            ["updated_at"] = Iso(ShopApiKind.Payments, created),
            ["version"] = 1,
        };
        return new Row(id, created, json);
    }

    private static Row AdvancePayment(Row row, DateTimeOffset at)
    {
        var json = (JsonObject)row.Json.DeepClone();
        var status = json["status"]!.GetValue<string>();
        var next = Array.IndexOf(PaymentFlow, status) is var i and >= 0 && i < PaymentFlow.Length - 1 ? PaymentFlow[i + 1] : status == "failed" ? "paid" : "refunded";
        json["status"] = next;
        if (next == "paid") json["paid_at"] = Iso(ShopApiKind.Payments, at);
        json["version"] = json["version"]!.GetValue<int>() + 1;
        json["updated_at"] = Iso(ShopApiKind.Payments, at);
        return new Row(row.Id, at, json);
    }

    private static Row NewShipment(Random random, int n, DateTimeOffset created)
    {
        var id = $"shp_{n:D6}";
        var json = new JsonObject
        {
            ["shipment_id"] = id,
            ["order_id"] = $"ord_{100_000 + n * 11 % 90_000:D6}",
            ["carrier"] = Carriers[random.Next(Carriers.Length)],
            ["tracking_number"] = $"3S{random.Next(10_000_000, 99_999_999)}NL",
            ["status"] = "label_created",
            ["destination"] = new JsonObject { ["country"] = Countries[random.Next(Countries.Length)], ["postal_code"] = $"{random.Next(1000, 9999)} {(char)('A' + random.Next(26))}{(char)('A' + random.Next(26))}" },
            ["shipped_at"] = null,
            ["delivered_at"] = null,
            ["created_at"] = Iso(ShopApiKind.Shipments, created),
            ["updated_at"] = Iso(ShopApiKind.Shipments, created),
            ["version"] = 1,
        };
        return new Row(id, created, json);
    }

    private static Row AdvanceShipment(Row row, DateTimeOffset at)
    {
        var json = (JsonObject)row.Json.DeepClone();
        var i = Array.IndexOf(ShipmentFlow, json["status"]!.GetValue<string>());
        var next = ShipmentFlow[Math.Min(i + 1, ShipmentFlow.Length - 1)];
        json["status"] = next;
        if (next == "in_transit") json["shipped_at"] = Iso(ShopApiKind.Shipments, at);
        if (next == "delivered") json["delivered_at"] = Iso(ShopApiKind.Shipments, at);
        json["version"] = json["version"]!.GetValue<int>() + 1;
        json["updated_at"] = Iso(ShopApiKind.Shipments, at);
        return new Row(row.Id, at, json);
    }
}
