using System.Globalization;
using System.Text;
using System.Text.Json;
using Ingot.DuckDb;
using Ingot.Simulators;

namespace Ingot.Tests.EndToEnd;

/// <summary>
/// System C's REST half through the built executable: the shop simulator's payments (cursor pages, api key) and
/// shipments (page numbers, bearer token) land in the raw archive and Hive-partitioned Parquet — full first, then
/// exactly the new versions, look-back re-reads landing nothing twice, one API down not stopping the other, a SIGKILL
/// resumed exactly, and the key and token nowhere in logs, state or lake.
/// </summary>
public sealed class ShopIngestionTests
{
    private const string PaymentsKey = "pk-e2e-7f3a9c41d2";
    private const string ShipmentsToken = "tok-e2e-51bd0e88aa";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<SimulatorHost> StartAsync(TimeSpan latency = default) =>
        SimulatorHost.StartShopAsync(new SimulatorOptions { Latency = latency, RateLimitPerSecond = double.PositiveInfinity },
            new ShopOptions { PaymentsKey = PaymentsKey, ShipmentsToken = ShipmentsToken }, Ct);

    private static string Pipeline(SimulatorHost sim, int paymentsPage = 50) => $$"""
        name: shop-bronze
        sources:
          - name: payments-api
            type: rest
            base_url: {{sim.BaseUrl}}
            auth: {type: api_key, header: x-api-key, key: "${PAYMENTS_KEY}"}
            streams:
              - name: payments
                path: /v1/payments
                params: {limit: "{{paymentsPage}}"}
                records: data
                primary_key: [payment_id]
                paginate: {type: cursor, from: meta.next_cursor, param: cursor}
                incremental: {cursor: updated_at, param: since}
                lookback: 30m
                event_time: created_at
          - name: shipments-api
            type: rest
            base_url: {{sim.BaseUrl}}
            auth:
              type: bearer
              token: ${SHIPMENTS_TOKEN}
            streams:
              - name: shipments
                path: /v1/shipments
                records: shipments
                primary_key: [shipment_id]
                paginate: {type: page, size: 25, total_from: meta.total}
                incremental: {cursor: updated_at, param: since}
                lookback: 30m
                event_time: created_at
        http:
          concurrency: 2
          retries: 1
          backoff: 10ms..20ms
        destinations:
          - type: raw
            path: ./lake
          - type: parquet
            path: ./lake
            partition_by: [ingestion_date, load_type, event_date]

        """;

    private static readonly Dictionary<string, string> Env = new() { ["PAYMENTS_KEY"] = PaymentsKey, ["SHIPMENTS_TOKEN"] = ShipmentsToken };

    private static Task<IngotProcess.Result> RunAsync(Workspace ws, string pipeline, params string[] more) =>
        IngotProcess.RunAsync(ws.Dir, Env, ["run", pipeline, .. more]);

    /// <summary>Every landed row of a stream: (id, version, load_type).</summary>
    private static List<(string Id, int Version, string LoadType)> Rows(Workspace ws, string stream, string idField)
    {
        var folder = Path.Combine(ws.Lake, "shop-bronze", stream);
        if (!Directory.Exists(folder)) return [];
        using var db = DuckDbSession.Open();
        var rows = db.Query($"""
            SELECT {idField}, CAST(version AS INTEGER) AS version, load_type, _source_system, _stream, event_date, created_at
            FROM read_parquet({DuckDbSession.Literal(Path.Combine(folder, "**", "*.parquet"))}, hive_partitioning = true, union_by_name = true)
            """);
        var list = new List<(string, int, string)>();
        foreach (var r in rows)
        {
            r[rows.Ordinal("_source_system")].ShouldBe("rest");
            r[rows.Ordinal("_stream")].ShouldBe(stream);
            // event_date comes from created_at, an ISO time with an offset, read as UTC
            var created = DateTimeOffset.Parse((string)r[rows.Ordinal("created_at")]!, CultureInfo.InvariantCulture);
            r[rows.Ordinal("event_date")].ShouldBe(DateOnly.FromDateTime(created.UtcDateTime));
            list.Add(((string)r[0]!, (int)r[1]!, (string)r[2]!));
        }
        return list;
    }

    private static void ShouldHoldEveryVersionOnce(Workspace ws, SimulatorHost sim, IEnumerable<(string, int)> landedBefore, ShopApiKind api)
    {
        var (stream, id) = api == ShopApiKind.Payments ? ("payments", "payment_id") : ("shipments", "shipment_id");
        var rows = Rows(ws, stream, id).Select(r => (r.Id, r.Version)).ToList();
        rows.Distinct().Count().ShouldBe(rows.Count, $"a {stream} version landed twice");
        rows.ShouldBe(landedBefore.Union(sim.Shop!.Versions(api)), ignoreOrder: true);
    }

    private static async Task<JsonElement> StatusAsync(Workspace ws, string pipeline)
    {
        var status = await IngotProcess.RunAsync(ws.Dir, Env, "status", pipeline, "--json");
        status.ExitCode.ShouldBe(0, status.Stdout + status.Stderr);
        return JsonDocument.Parse(status.Stdout).RootElement.Clone();
    }

    private static string? Checkpoint(JsonElement status, string stream) =>
        status.GetProperty("watermarks").TryGetProperty(stream, out var w) ? w.GetProperty("value").GetString() : null;

    private static JsonElement StreamOf(IngotProcess.Result run, string stream) =>
        run.Summary.GetProperty("streams").EnumerateArray().Single(s => s.GetProperty("stream").GetString() == stream);

    private static void SecretsAppearNowhere(Workspace ws, params IngotProcess.Result[] runs)
    {
        foreach (var run in runs)
        {
            (run.Stdout + run.Stderr).ShouldNotContain(PaymentsKey);
            (run.Stdout + run.Stderr).ShouldNotContain(ShipmentsToken);
        }
        foreach (var file in ws.AllFiles(ws.Dir).Where(f => !f.EndsWith(".yaml", StringComparison.Ordinal)))
        {
            var text = Encoding.UTF8.GetString(File.ReadAllBytes(file));
            text.ShouldNotContain(PaymentsKey, customMessage: file);
            text.ShouldNotContain(ShipmentsToken, customMessage: file);
        }
    }

    [Fact]
    public async Task Run_FullThenIncrementalThenLookbackReRead_EveryVersionOnce()
    {
        // Given the shop APIs and a pipeline reading both
        await using var sim = await StartAsync();
        using var ws = new Workspace();
        var pipeline = ws.Write("shop.yaml", Pipeline(sim));

        // When a first run lands everything
        var first = await RunAsync(ws, pipeline);

        // Then both streams load full, every record once
        first.ExitCode.ShouldBe(0, first.Stdout + first.Stderr);
        StreamOf(first, "payments").GetProperty("load_type").GetString().ShouldBe("full");
        StreamOf(first, "shipments").GetProperty("records_landed").GetInt64().ShouldBe(130);
        var payments1 = sim.Shop!.Versions(ShopApiKind.Payments);
        var shipments1 = sim.Shop.Versions(ShopApiKind.Shipments);
        Rows(ws, "payments", "payment_id").ShouldAllBe(r => r.LoadType == "full");
        ShouldHoldEveryVersionOnce(ws, sim, [], ShopApiKind.Payments);
        var status1 = await StatusAsync(ws, pipeline);
        Checkpoint(status1, "payments").ShouldBe(sim.Shop.Rows(ShopApiKind.Payments, null).Max(r => r.UpdatedAt).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture));

        // When records change (inside the 30-minute look-back of the checkpoint and after it) and a second run goes incremental
        var tick = sim.Shop.Tick(TimeSpan.FromMinutes(20), updates: 15, inserts: 4);
        var second = await RunAsync(ws, pipeline);

        // Then exactly the new versions land, as incremental
        second.ExitCode.ShouldBe(0, second.Stdout + second.Stderr);
        StreamOf(second, "payments").GetProperty("load_type").GetString().ShouldBe("incremental");
        StreamOf(second, "payments").GetProperty("records_landed").GetInt64().ShouldBe(tick.UpdatedPayments.Count + tick.InsertedPayments.Count);
        StreamOf(second, "shipments").GetProperty("records_landed").GetInt64().ShouldBe(tick.UpdatedShipments.Count + tick.InsertedShipments.Count);
        Rows(ws, "payments", "payment_id").Count(r => r.LoadType == "incremental").ShouldBe(19);
        ShouldHoldEveryVersionOnce(ws, sim, payments1, ShopApiKind.Payments);
        ShouldHoldEveryVersionOnce(ws, sim, shipments1, ShopApiKind.Shipments);

        // And a third run re-reads the look-back window and lands nothing twice
        var third = await RunAsync(ws, pipeline);
        third.ExitCode.ShouldBe(0, third.Stdout + third.Stderr);
        third.Summary.GetProperty("records_landed").GetInt64().ShouldBe(0);
        third.Summary.GetProperty("requests").GetInt64().ShouldBeGreaterThan(0);
        ShouldHoldEveryVersionOnce(ws, sim, payments1, ShopApiKind.Payments);
        var verify = await IngotProcess.RunAsync(ws.Dir, Env, "verify", pipeline);
        verify.ExitCode.ShouldBe(0, verify.Stdout + verify.Stderr);
        SecretsAppearNowhere(ws, first, second, third, verify);
    }

    [Fact]
    public async Task Run_OneApiDown_OtherLandsAndTheNextRunCatchesUpOnce()
    {
        // Given a first full run, then changes while the payments API is down
        await using var sim = await StartAsync();
        using var ws = new Workspace();
        var pipeline = ws.Write("shop.yaml", Pipeline(sim));
        (await RunAsync(ws, pipeline)).ExitCode.ShouldBe(0);
        var payments1 = sim.Shop!.Versions(ShopApiKind.Payments);
        var shipments1 = sim.Shop.Versions(ShopApiKind.Shipments);
        var before = Checkpoint(await StatusAsync(ws, pipeline), "payments");
        var tick = sim.Shop.Tick(TimeSpan.FromHours(1), updates: 10, inserts: 2);
        sim.Shop.SetDown(ShopApiKind.Payments, true);

        // When a run goes
        var failed = await RunAsync(ws, pipeline);

        // Then it ends with exit 1: shipments landed and checkpointed, payments failed with its checkpoint unchanged
        failed.ExitCode.ShouldBe(1, failed.Stdout + failed.Stderr);
        StreamOf(failed, "payments").GetProperty("status").GetString().ShouldBe("failed");
        StreamOf(failed, "payments").GetProperty("error").GetString()!.ShouldContain("HTTP 503: The payments API is temporarily unavailable.");
        StreamOf(failed, "shipments").GetProperty("records_landed").GetInt64().ShouldBe(12);
        var status = await StatusAsync(ws, pipeline);
        Checkpoint(status, "payments").ShouldBe(before);
        Checkpoint(status, "shipments").ShouldBe(sim.Shop.Rows(ShopApiKind.Shipments, null).Max(r => r.UpdatedAt).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture));
        ShouldHoldEveryVersionOnce(ws, sim, shipments1, ShopApiKind.Shipments);

        // When the API is back and the next run goes
        sim.Shop.SetDown(ShopApiKind.Payments, false);
        var caughtUp = await RunAsync(ws, pipeline);

        // Then payments catch up once, and shipments land nothing again
        caughtUp.ExitCode.ShouldBe(0, caughtUp.Stdout + caughtUp.Stderr);
        StreamOf(caughtUp, "payments").GetProperty("records_landed").GetInt64().ShouldBe(tick.UpdatedPayments.Count + tick.InsertedPayments.Count);
        StreamOf(caughtUp, "shipments").GetProperty("records_landed").GetInt64().ShouldBe(0);
        var after = await StatusAsync(ws, pipeline);
        after.GetProperty("failed").GetArrayLength().ShouldBe(0, "the failed payments unit was asked again under its key and is done");
        Checkpoint(after, "payments").ShouldNotBe(before);
        ShouldHoldEveryVersionOnce(ws, sim, payments1, ShopApiKind.Payments);
        ShouldHoldEveryVersionOnce(ws, sim, shipments1, ShopApiKind.Shipments);
        SecretsAppearNowhere(ws, failed, caughtUp);
    }

    [Fact]
    public async Task Run_KilledMidwayThenResumed_LandsExactlyOnce()
    {
        // Given slow payments pages (10 a page, 24 pages), and a run SIGKILLed once the shipments have landed
        await using var sim = await StartAsync(TimeSpan.FromMilliseconds(120));
        using var ws = new Workspace();
        var pipeline = ws.Write("shop.yaml", Pipeline(sim, paymentsPage: 10));
        var killed = await IngotProcess.RunAndKillAsync(ws.Dir, Env, 1, "run", pipeline);
        killed.ShouldContain("\"Chunk landed\"");
        Rows(ws, "payments", "payment_id").ShouldBeEmpty("the payments unit was cut short before its commit");
        (await StatusAsync(ws, pipeline)).GetProperty("chunks").GetProperty("pending").GetInt32().ShouldBe(1);

        // When the next run goes
        var resumed = await RunAsync(ws, pipeline);

        // Then the unfinished unit is asked again under its own key and every record is there once
        resumed.ExitCode.ShouldBe(0, resumed.Stdout + resumed.Stderr);
        StreamOf(resumed, "payments").GetProperty("load_type").GetString().ShouldBe("full");
        StreamOf(resumed, "payments").GetProperty("records_landed").GetInt64().ShouldBe(240);
        StreamOf(resumed, "shipments").GetProperty("records_landed").GetInt64().ShouldBe(0);
        ShouldHoldEveryVersionOnce(ws, sim, [], ShopApiKind.Payments);
        ShouldHoldEveryVersionOnce(ws, sim, [], ShopApiKind.Shipments);
        Directory.EnumerateFiles(Path.Combine(ws.Lake, "shop-bronze", "raw", "payments", "_manifests")).Count().ShouldBe(1);
        // the killed run's payments unit was the one asked again: nothing is left pending
        (await StatusAsync(ws, pipeline)).GetProperty("chunks").TryGetProperty("pending", out _).ShouldBeFalse();
        var verify = await IngotProcess.RunAsync(ws.Dir, Env, "verify", pipeline);
        verify.ExitCode.ShouldBe(0, verify.Stdout + verify.Stderr);
        SecretsAppearNowhere(ws, resumed, verify);
        killed.ShouldNotContain(PaymentsKey);
    }
}
