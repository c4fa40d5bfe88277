using System.Text.Json;
using Ingot.DuckDb;
using Ingot.Simulators;

namespace Ingot.Tests.EndToEnd;

/// <summary>
/// Engine v2 end to end, through the built executable: the lake remembers what landed (a lost state store never
/// duplicates), a configuration change is refused or replaced, one failing stream does not stop the others, and the
/// files source lands a folder of drops.
/// </summary>
public sealed class EngineV2Tests
{
    private const string Daily = "daily-in-situ-meteorological-observations-validated";
    private static readonly string[] Stations = ["0-20000-0-06260", "0-20000-0-06240"];
    private const string Key = "v2-e2e-key";
    private const string Both = "  - type: raw\n    path: ./lake\n  - type: parquet\n    path: ./lake\n";

    private static string Knmi(SimulatorHost sim, string[] parameters) =>
        KnmiArchive.Pipeline("knmi-v2", sim.BaseUrl, Key, Daily, Stations, parameters, "2000-01-02T00:00:00Z", "2001-01-02T00:00:00Z", "P1D", 400, destinations: Both);

    internal static long ParquetRows(string lake, string pipeline, string sql = "count(*)")
    {
        using var db = DuckDbSession.Open();
        var glob = DuckDbSession.Literal(Path.Combine(lake, pipeline, "**", "*.parquet"));
        return Convert.ToInt64(db.Scalar($"SELECT {sql} FROM read_parquet({glob}, hive_partitioning = true, union_by_name = true)"));
    }

    [Theory]
    [InlineData("deleted")]
    [InlineData("truncated")]
    public async Task Run_StateLostAfterARun_RefusesWithoutARequest_ThenStateRebuildRestoresIt(string how)
    {
        // Given a landed pipeline whose state store is then lost
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("knmi.yaml", Knmi(sim, ["TG"]));
        var first = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);
        first.ExitCode.ShouldBe(0, first.Stderr);
        var rows = ParquetRows(ws.Lake, "knmi-v2");
        rows.ShouldBe(2 * 366);
        var db = Path.Combine(ws.Home, "state.db");
        if (how == "deleted") Directory.Delete(ws.Home, recursive: true);
        else
        {
            foreach (var f in Directory.GetFiles(ws.Home, "state.db*")) File.Delete(f);
            await File.WriteAllBytesAsync(db, [], TestContext.Current.CancellationToken);
        }
        var requests = sim.Requests.Count;

        // When it runs again
        var again = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then it refuses (exit 2) naming the way forward, makes no request, and lands nothing twice
        again.ExitCode.ShouldBe(2, again.Stdout + again.Stderr);
        again.Stderr.ShouldContain("ingot state rebuild");
        again.Stderr.ShouldContain("has no record of");
        sim.Requests.Count.ShouldBe(requests);
        ParquetRows(ws.Lake, "knmi-v2").ShouldBe(rows);

        // And state rebuild restores status: every unit done, the watermark back, the next run makes no data request
        var rebuild = await IngotProcess.RunAsync(ws.Dir, null, "state", "rebuild", pipeline);
        rebuild.ExitCode.ShouldBe(0, rebuild.Stderr);
        rebuild.Stdout.ShouldContain($"{first.Summary.GetProperty("chunks_done").GetInt32()} unit(s) restored as done");
        var status = await IngotProcess.RunAsync(ws.Dir, null, "status", pipeline, "--json");
        using (var doc = JsonDocument.Parse(status.Stdout))
        {
            doc.RootElement.GetProperty("chunks").GetProperty("done").GetInt32().ShouldBe(first.Summary.GetProperty("chunks_done").GetInt32());
            doc.RootElement.GetProperty("watermarks").GetProperty(Daily).GetProperty("value").GetString().ShouldBe("2001-01-02T00:00:00Z");
        }
        var third = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);
        third.ExitCode.ShouldBe(0, third.Stderr);
        third.Summary.GetProperty("requests").GetInt64().ShouldBe(0);
        ParquetRows(ws.Lake, "knmi-v2").ShouldBe(rows);
        (await IngotProcess.RunAsync(ws.Dir, null, "verify", pipeline)).ExitCode.ShouldBe(0);
    }

    [Fact]
    public async Task Run_FromAnotherFolderOverTheSameLake_Refuses()
    {
        // Given a pipeline landed into a lake given by absolute path, and a second folder (its own state) pointing at it
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        using var other = new Workspace();
        var yaml = Knmi(sim, ["TG"]).Replace("path: ./lake", $"path: {ws.Lake}", StringComparison.Ordinal);
        (await IngotProcess.RunAsync(ws.Dir, null, "run", ws.Write("knmi.yaml", yaml))).ExitCode.ShouldBe(0);

        // When the other folder runs it
        var again = await IngotProcess.RunAsync(other.Dir, null, "run", other.Write("knmi.yaml", yaml));

        // Then it refuses rather than land every record a second time
        again.ExitCode.ShouldBe(2);
        again.Stderr.ShouldContain("state rebuild");
        ParquetRows(ws.Lake, "knmi-v2").ShouldBe(2 * 366);
    }

    [Fact]
    public async Task Run_ParameterAddedToALandedPipeline_RefusesNamingTheChange_RefreshLandsEveryRecordOnceWithTheNewColumn()
    {
        // Given a landed pipeline with one parameter
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        (await IngotProcess.RunAsync(ws.Dir, null, "run", ws.Write("knmi.yaml", Knmi(sim, ["TG"])))).ExitCode.ShouldBe(0);
        var requests = sim.Requests.Count;

        // When a parameter is added
        var pipeline = ws.Write("knmi.yaml", Knmi(sim, ["TG", "TX"]));
        var refused = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then the run is refused naming the change and the way forward, before any request
        refused.ExitCode.ShouldBe(2, refused.Stdout + refused.Stderr);
        refused.Stderr.ShouldContain("parameters: TG → TG,TX");
        refused.Stderr.ShouldContain("--refresh");
        sim.Requests.Count.ShouldBe(requests);

        // And with --refresh every (station, day) is in the lake once, with the new column
        var refreshed = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline, "--refresh");
        refreshed.ExitCode.ShouldBe(0, refreshed.Stderr);
        ParquetRows(ws.Lake, "knmi-v2").ShouldBe(2 * 366);
        ParquetRows(ws.Lake, "knmi-v2", "count(DISTINCT (station, time))").ShouldBe(2 * 366);
        ParquetRows(ws.Lake, "knmi-v2", "count(TX)").ShouldBeGreaterThan(2 * 366 * 9 / 10, "the new column (the simulator leaves some values missing)");
        var verify = await IngotProcess.RunAsync(ws.Dir, null, "verify", pipeline);
        verify.ExitCode.ShouldBe(0, verify.Stdout);
        (await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline)).Summary.GetProperty("requests").GetInt64().ShouldBe(0);
    }

    [Fact]
    public async Task Run_TwoStreamsOneApiFails_Exit1_TheOtherStreamLandedAndCheckpointed()
    {
        // Given a pipeline with a KNMI stream and a NOAA stream whose token the API refuses
        await using var knmi = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        await using var noaa = await SimulatorHost.StartNoaaAsync(new SimulatorOptions { ApiKey = "right-token" }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("two.yaml", $"""
            name: two-streams
            sources:
              - type: knmi-edr
                base_url: {knmi.BaseUrl.ToString().TrimEnd('/')}
                api_key: {Key}
                collection: {Daily}
                stations: [0-20000-0-06260]
                parameters: [TG]
                start: 2000-01-02T00:00:00Z
                end: 2000-03-02T00:00:00Z
                step: P1D
              - type: noaa-cdo
                base_url: {noaa.BaseUrl.ToString().TrimEnd('/')}
                token: wrong-token
                dataset: PRECIP_15
                stations: [COOP:010008]
                datatypes: [QPCP]
                start: 2010-01-01T00:00:00Z
                end: 2010-03-01T00:00:00Z
            http:
              concurrency: 2
              retries: 1
              backoff: 10ms..20ms
            destinations:
              - type: raw
                path: ./lake
            """);

        // When it runs
        var run = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then it ends with exit 1, the NOAA stream failed with the API's reason, the KNMI stream landed and checkpointed
        run.ExitCode.ShouldBe(1, run.Stderr);
        var streams = run.Summary.GetProperty("streams").EnumerateArray().ToDictionary(s => s.GetProperty("stream").GetString()!);
        streams["precip_15"].GetProperty("status").GetString().ShouldBe("failed");
        streams["precip_15"].GetProperty("error").GetString()!.ShouldContain("token parameter provided is not valid");
        streams[Daily].GetProperty("status").GetString().ShouldBe("complete");
        streams[Daily].GetProperty("records_landed").GetInt64().ShouldBe(60);
        var status = await IngotProcess.RunAsync(ws.Dir, null, "status", pipeline, "--json");
        using var doc = JsonDocument.Parse(status.Stdout);
        doc.RootElement.GetProperty("watermarks").GetProperty(Daily).GetProperty("value").GetString().ShouldBe("2000-03-02T00:00:00Z");
        doc.RootElement.GetProperty("watermarks").TryGetProperty("precip_15", out _).ShouldBeFalse();

        // And --streams runs only the stream asked for
        var only = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline, "--streams", Daily);
        only.ExitCode.ShouldBe(0, only.Stderr);
        only.Summary.GetProperty("streams").GetArrayLength().ShouldBe(1);
    }

    [Fact]
    public async Task Run_FilesSource_GoodAndBadFilesThenAChangedAndAnAddedFile_EachRecordOncePerVersion()
    {
        // Given a drop folder with a CSV (BOM, quoted newline), a JSON array, and an NDJSON file with a broken line
        using var ws = new Workspace();
        Directory.CreateDirectory(Path.Combine(ws.Dir, "drop", "sub"));
        await File.WriteAllBytesAsync(Path.Combine(ws.Dir, "drop", "people.csv"), [0xEF, 0xBB, 0xBF, .. "id,name,note\n1,Ann,\"two\nlines\"\n2,Bob,plain\n"u8.ToArray()], TestContext.Current.CancellationToken);
        ws.Write("drop/sub/items.json", """[{"k":1},{"k":2},{"k":3}]""");
        ws.Write("drop/events.ndjson", "{\"id\":1}\nnot json\n");
        var pipeline = ws.Write("drops.yaml", """
            name: drops
            source:
              type: files
              path: ./drop
              stream: drops
            destinations:
              - type: raw
                path: ./lake
              - type: parquet
                path: ./lake
            """);

        // When it runs
        var first = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then the bad file fails its own unit with file and line, the others land; the raw archive keeps each file's bytes
        first.ExitCode.ShouldBe(1, first.Stderr);
        first.Events.Single(e => e.GetProperty("msg").GetString() == "Chunk failed").GetProperty("error").GetString()!.ShouldContain("events.ndjson:2:");
        ParquetRows(ws.Lake, "drops").ShouldBe(5);
        ParquetRows(ws.Lake, "drops", "count(*) FILTER (WHERE note = 'two\nlines')").ShouldBe(1);
        var raw = Directory.GetFiles(Path.Combine(ws.Lake, "drops", "raw", "drops"), "people*.csv", SearchOption.AllDirectories).ShouldHaveSingleItem();
        (await File.ReadAllBytesAsync(raw, TestContext.Current.CancellationToken)).ShouldBe(await File.ReadAllBytesAsync(Path.Combine(ws.Dir, "drop", "people.csv"), TestContext.Current.CancellationToken));

        // When the bad file is fixed and a file is added
        ws.Write("drop/events.ndjson", "{\"id\":1}\n{\"id\":2}\n");
        ws.Write("drop/more.csv", "id,name,note\n3,Cy,x\n");
        var second = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then only those two land (the unchanged files are skipped), and nothing is twice
        second.ExitCode.ShouldBe(0, second.Stderr);
        second.Summary.GetProperty("chunks_done").GetInt32().ShouldBe(2);
        second.Summary.GetProperty("chunks_skipped").GetInt32().ShouldBe(2);
        ParquetRows(ws.Lake, "drops").ShouldBe(8);
        (await IngotProcess.RunAsync(ws.Dir, null, "verify", pipeline)).ExitCode.ShouldBe(0);
        (await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline)).Summary.GetProperty("chunks_done").GetInt32().ShouldBe(0);
    }
}
