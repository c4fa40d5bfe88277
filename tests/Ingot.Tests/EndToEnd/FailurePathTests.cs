// Over ~400 lines on purpose: one end-to-end test per item of the failure-path issue (crashes, fail-fast, preflight,
// redaction, paths, configuration errors, leftovers), each against the built executable, sharing one small pipeline.
using System.Diagnostics;
using System.Text.Json;
using Ingot.Simulators;

namespace Ingot.Tests.EndToEnd;

/// <summary>
/// Every failure is a clear error: no crash, no wasted quota, no secret in a file — through the built <c>ingot</c>.
/// </summary>
public sealed class FailurePathTests
{
    private const string Daily = "daily-in-situ-meteorological-observations-validated";
    private static readonly string[] Stations = ["0-20000-0-06260", "0-20000-0-06240"];
    private const string Key = "failure-path-key";

    /// <summary>Two stations, TG, 2000–2002 in units of 30 days: about 25 units.</summary>
    private static string Pipeline(SimulatorHost sim, string key = Key, string destinations = "  - type: raw\n    path: ./lake\n", int concurrency = 2, string? baseUrl = null,
        string end = "2002-01-02T00:00:00Z") =>
        KnmiArchive.Pipeline("knmi-fail", baseUrl is null ? sim.BaseUrl : new Uri(baseUrl), key, Daily, Stations, ["TG"], "2000-01-02T00:00:00Z", end, "P1D", 60,
            destinations: destinations, concurrency: concurrency);

    /// <summary><c>line:col</c> of the first <paramref name="token"/> in a file's text, as the loader counts (1-based).</summary>
    private static string Pos(string file, string token)
    {
        var lines = File.ReadAllLines(file);
        for (var i = 0; i < lines.Length; i++)
        {
            var col = lines[i].IndexOf(token, StringComparison.Ordinal);
            if (col >= 0) return $"{i + 1}:{col + 1}";
        }
        throw new InvalidOperationException($"{token} not in {file}");
    }

    private static string[] ErrorLines(IngotProcess.Result r) => r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static async Task<JsonElement> RunsJson(Workspace ws)
    {
        var runs = await IngotProcess.RunAsync(ws.Dir, null, "runs", "--json");
        runs.ExitCode.ShouldBe(0, runs.Stderr);
        return JsonDocument.Parse(runs.Stdout).RootElement.Clone();
    }

    // ---- 1. no unhandled exception; run records closed ---------------------------------------------------------

    [Fact]
    public async Task Run_StateDatabaseTruncatedToHalf_OneLineErrorNamingTheWayOut_Exit2()
    {
        // Given a landed pipeline whose state database is then cut to half its size
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("p.yaml", Pipeline(sim));
        (await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline)).ExitCode.ShouldBe(0);
        var db = Path.Combine(ws.Home, "state.db");
        foreach (var wal in Directory.GetFiles(ws.Home, "state.db-*")) File.Delete(wal);
        await using (var f = new FileStream(db, FileMode.Open)) f.SetLength(f.Length / 2);
        var requests = sim.Requests.Count;

        // When it runs, and when its status is asked
        var run = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);
        var status = await IngotProcess.RunAsync(ws.Dir, null, "status", pipeline);

        // Then both say in one line that the state database is damaged and how to restore it, exit 2, no request
        foreach (var r in new[] { run, status })
        {
            r.ExitCode.ShouldBe(2, r.Stderr);
            ErrorLines(r).ShouldHaveSingleItem().ShouldStartWith($"error: state database {db} is ");
            r.Stderr.ShouldContain("ingot state rebuild");
        }
        sim.Requests.Count.ShouldBe(requests);
    }

    [Fact]
    public async Task Run_StateFolderOnAFullDisk_OneLineErrorExit1()
    {
        // Given INGOT_HOME on a file system with no space left
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        using var disk = Tmpfs.Mount(Path.Combine(ws.Dir, "full"), 256 * 1024, free: 0);
        var pipeline = ws.Write("p.yaml", Pipeline(sim));

        // When it runs
        var run = await IngotProcess.RunAsync(ws.Dir, new Dictionary<string, string> { ["INGOT_HOME"] = Path.Combine(disk.Dir, "home") }, "run", pipeline);

        // Then it says the disk is full, in one line, exit 1, before any request
        run.ExitCode.ShouldBe(1, run.Stderr);
        ErrorLines(run).ShouldHaveSingleItem().ShouldContain("full", Case.Insensitive);
        sim.Requests.Count.ShouldBe(0);
    }

    [Fact]
    public async Task Run_S3EndpointThatDoesNotAnswer_OneLineErrorExit1()
    {
        // Given a Parquet lake on an S3 endpoint nobody listens on
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("p.yaml", Pipeline(sim, destinations:
            "  - type: raw\n    path: s3://bronze/lake\n    endpoint: http://127.0.0.1:9\n    access_key: AKIDTEST\n    secret_key: s3cret-of-the-test\n"));

        // When it runs
        var run = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then one line names the bucket and the refused connection, without the secret, and nothing was fetched
        run.ExitCode.ShouldBe(1, run.Stderr);
        var line = ErrorLines(run).ShouldHaveSingleItem();
        line.ShouldContain("s3://bronze/lake");
        line.ShouldContain("Connection refused");
        (run.Stdout + run.Stderr).ShouldNotContain("s3cret-of-the-test");
        sim.Requests.Count.ShouldBe(0);
    }

    [Fact]
    public async Task Sim_PortInUse_SaysSoExit2()
    {
        // Given a port that is taken
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();

        // When a simulator is asked to listen on it
        var run = await IngotProcess.RunAsync(ws.Dir, null, "sim", "knmi", "--port", sim.BaseUrl.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));

        // Then
        run.ExitCode.ShouldBe(2, run.Stderr);
        ErrorLines(run).ShouldHaveSingleItem().ShouldBe($"error: --port {sim.BaseUrl.Port}: the port is already in use on 127.0.0.1; choose another, or --port 0 for any free port");
    }

    [Fact]
    public async Task Run_AfterARunKilledWithKill9_TheNextRunClosesItsRecordAsCrashed()
    {
        // Given a run killed with kill -9 after its first unit
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key, Latency = TimeSpan.FromMilliseconds(100) }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("p.yaml", Pipeline(sim));
        await IngotProcess.RunAndKillAsync(ws.Dir, null, 1, "run", pipeline);
        var killed = (await RunsJson(ws)).EnumerateArray().ShouldHaveSingleItem();
        killed.GetProperty("status").GetString().ShouldBe("running");

        // When the next run takes over its lease
        var next = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then the killed run is recorded as crashed, with the reason, and the next one as complete
        next.ExitCode.ShouldBe(0, next.Stderr);
        var runs = (await RunsJson(ws)).EnumerateArray().ToDictionary(r => r.GetProperty("run_id").GetString()!);
        var closed = runs[killed.GetProperty("run_id").GetString()!];
        closed.GetProperty("status").GetString().ShouldBe("crashed");
        closed.GetProperty("summary").GetProperty("Message").GetString()!.ShouldContain("took over the lease");
        runs[next.Summary.GetProperty("run_id").GetString()!].GetProperty("status").GetString().ShouldBe("complete");
    }

    // ---- 2. fail fast -------------------------------------------------------------------------------------------

    [Fact]
    public async Task Run_WrongApiKey_StopsAfterAFewUnits_NotOneRequestPerUnit()
    {
        // Given a key the API refuses (403) and a plan of about 25 units
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("p.yaml", Pipeline(sim, key: "not-the-key"));

        // When it runs
        var run = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then the stream stops after three refusals (plus what was in flight), exit 1, the reason in the summary
        run.ExitCode.ShouldBe(1, run.Stderr);
        var total = run.Summary.GetProperty("chunks_total").GetInt32();
        total.ShouldBeGreaterThan(20);
        // (two fetch workers may each have fetched one unit ahead while the landers recorded the first failures)
        sim.Requests.Count.ShouldBeLessThanOrEqualTo(3 + 2 * 2 + 1, "three refusals, and what the two workers had in flight");
        var stream = run.Summary.GetProperty("streams").EnumerateArray().ShouldHaveSingleItem();
        stream.GetProperty("status").GetString().ShouldBe("failed");
        stream.GetProperty("error").GetString()!.ShouldStartWith("stopped after 3 units failed alike (retries cannot fix this): HTTP 403");
        run.Summary.GetProperty("chunks_pending").GetInt32().ShouldBe(total - run.Summary.GetProperty("chunks_failed").GetInt32());
    }

    [Fact]
    public async Task Run_LakeOnADiskThatFills_StopsTheRunAfterAFewUnits()
    {
        // Given a lake on a file system with room for a few units only
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        using var disk = Tmpfs.Mount(Path.Combine(ws.Dir, "small"), 1024 * 1024, free: 48 * 1024);
        var pipeline = ws.Write("p.yaml", Pipeline(sim, destinations: $"  - type: raw\n    path: {disk.Dir}/lake\n", end: "2005-01-02T00:00:00Z"));

        // When it runs
        var run = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then it stops once three units in a row found the disk full: exit 1, the reason, most requests never sent
        run.ExitCode.ShouldBe(1, run.Stderr);
        run.Summary.GetProperty("status").GetString().ShouldBe("failed");
        run.Summary.GetProperty("message").GetString()!.ShouldContain("stopped after 3 units failed alike");
        run.Summary.GetProperty("message").GetString()!.ShouldContain("No space left on device");
        var total = run.Summary.GetProperty("chunks_total").GetInt32();
        total.ShouldBeGreaterThan(50);
        sim.Requests.Count.ShouldBeLessThan(total / 2);
        // (units already fetched when the run stopped still try to land; nothing new is fetched)
        run.Summary.GetProperty("chunks_failed").GetInt32().ShouldBeInRange(3, total / 4);
        run.Summary.GetProperty("chunks_pending").GetInt32().ShouldBeGreaterThan(total / 2);
    }

    // ---- 3. preflight -------------------------------------------------------------------------------------------

    [Fact]
    public async Task ValidateAndRun_DestinationPathUnderARegularFile_RefusedBeforeAnyRequest_RunRecordFailedWithTheReason()
    {
        // Given a lake path under a regular file
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        ws.Write("afile", "not a folder");
        var pipeline = ws.Write("p.yaml", Pipeline(sim, destinations: "  - type: raw\n    path: ./afile/lake\n"));

        // When it is validated and run
        var validate = await IngotProcess.RunAsync(ws.Dir, null, "validate", pipeline);
        var run = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then both refuse, naming the file in the way, and no request is made; the run record says why
        foreach (var r in new[] { validate, run })
        {
            r.ExitCode.ShouldBe(2, r.Stderr);
            ErrorLines(r).ShouldHaveSingleItem().ShouldBe($"error: destination raw cannot write to {ws.Dir}/afile/lake/knmi-fail/raw/: {ws.Dir}/afile is a file, not a folder: a lake cannot be made under it");
        }
        sim.Requests.Count.ShouldBe(0);
        var record = (await RunsJson(ws)).EnumerateArray().ShouldHaveSingleItem();
        record.GetProperty("status").GetString().ShouldBe("failed");
        record.GetProperty("summary").GetProperty("Message").GetString()!.ShouldContain("is a file, not a folder");
    }

    [Fact]
    public async Task Validate_PartitionByAFieldTheSourceDoesNotProduce_FileLineColWithDidYouMean_RunMakesNoRequest()
    {
        // Given a Parquet partition on a misspelt and on an unknown field of a KNMI stream
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("p.yaml", Pipeline(sim, destinations: "  - type: parquet\n    path: ./lake\n    partition_by: [ingestion_date, statoin, nosuchcol]\n"));

        // When it is validated and run
        var validate = await IngotProcess.RunAsync(ws.Dir, null, "validate", pipeline);
        var run = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then both name each field at its position, with a hint for the misspelt one, and no request is made
        foreach (var r in new[] { validate, run })
        {
            r.ExitCode.ShouldBe(2, r.Stderr);
            var lines = ErrorLines(r);
            lines.Length.ShouldBe(2);
            lines[0].ShouldStartWith($"error: {pipeline}:{Pos(pipeline, "statoin")}: partition_by: 'statoin' is not a field of stream {Daily} (did you mean station?)");
            lines[1].ShouldStartWith($"error: {pipeline}:{Pos(pipeline, "nosuchcol")}: partition_by: 'nosuchcol' is not a field of stream {Daily} (its fields: TG, lat, lon, station, time)");
        }
        sim.Requests.Count.ShouldBe(0);
        ws.AllFiles(ws.Lake).ShouldBeEmpty();
    }

    [Fact]
    public async Task Run_FilesSourceEventTimeNotInTheRecords_StopsOnTheFirstUnitBeforeLandingAnything()
    {
        // Given drops whose records have no 'paid_at' field, and a pipeline that names it as the event time
        using var ws = new Workspace();
        Directory.CreateDirectory(Path.Combine(ws.Dir, "drop"));
        for (var i = 0; i < 5; i++) ws.Write($"drop/f{i}.csv", $"id,paidat\n{i},2024-01-0{i + 1}T00:00:00Z\n");
        var pipeline = ws.Write("drops.yaml", """
            name: drops
            source:
              type: files
              path: ./drop
              stream: drops
              event_time: paid_at
            destinations:
              - type: raw
                path: ./lake
              - type: parquet
                path: ./lake
            """);

        // When it runs
        var run = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then it stops with the configuration error (exit 2), naming the field and the hint; nothing landed
        run.ExitCode.ShouldBe(2, run.Stdout + run.Stderr);
        run.Summary.GetProperty("status").GetString().ShouldBe("failed");
        run.Summary.GetProperty("message").GetString()!.ShouldStartWith($"{pipeline}:{Pos(pipeline, "paid_at")}: event_time: 'paid_at' is not a field of stream drops (did you mean paidat?)");
        ws.AllFiles(ws.Lake).ShouldNotContain(f => f.EndsWith(".parquet", StringComparison.Ordinal) || f.EndsWith(".csv", StringComparison.Ordinal));
        run.Summary.GetProperty("chunks_done").GetInt32().ShouldBe(0);
    }

    // ---- 4. redaction -------------------------------------------------------------------------------------------

    [Fact]
    public async Task Run_CredentialsInBaseUrl_AppearInNoFileNoLogAndNoMessage()
    {
        // Given a base_url carrying user and password
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        const string Password = "pa55-in-the-url";
        var pipeline = ws.Write("p.yaml", Pipeline(sim, baseUrl: sim.BaseUrl.ToString().Replace("http://", $"http://edr-user:{Password}@", StringComparison.Ordinal)));

        // When it runs
        var run = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then nothing written — manifests, state, run logs, output — holds the password; manifests show the masked URL
        run.ExitCode.ShouldBe(0, run.Stderr);
        (run.Stdout + run.Stderr).ShouldNotContain(Password);
        foreach (var file in ws.AllFiles(ws.Lake).Concat(ws.AllFiles(ws.Home)))
            (await File.ReadAllBytesAsync(file, TestContext.Current.CancellationToken)).AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(Password)).ShouldBe(-1, file);
        var manifest = Directory.GetFiles(Path.Combine(ws.Lake, "knmi-fail", "raw", Daily, "_manifests")).First();
        (await File.ReadAllTextAsync(manifest, TestContext.Current.CancellationToken)).ShouldContain("\"request\": \"GET http://***@127.0.0.1:");
    }

    // ---- 5. paths -----------------------------------------------------------------------------------------------

    [Fact]
    public async Task Run_FromAnotherFolder_RelativeLakeLandsBesideThePipelineFile_ReadOnlyCommandsCreateNoState()
    {
        // Given a pipeline in conf/ with path: ./lake, run from the workspace's root
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        Directory.CreateDirectory(Path.Combine(ws.Dir, "conf"));
        var pipeline = ws.Write("conf/p.yaml", Pipeline(sim));

        // When the read-only commands run first, then the pipeline
        foreach (var command in new[] { "status", "verify", "plan" })
            (await IngotProcess.RunAsync(ws.Dir, null, command, pipeline)).ExitCode.ShouldBe(0, command);
        var runsBefore = await IngotProcess.RunAsync(ws.Dir, null, "runs");
        var stateBefore = Directory.Exists(ws.Home);
        var run = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then the read-only commands left no state behind, and the lake is conf/lake, not ./lake
        runsBefore.ExitCode.ShouldBe(0);
        stateBefore.ShouldBeFalse("status, verify, plan and runs create no state database");
        run.ExitCode.ShouldBe(0, run.Stderr);
        Directory.Exists(ws.Lake).ShouldBeFalse();
        Directory.EnumerateFiles(Path.Combine(ws.Dir, "conf", "lake", "knmi-fail", "raw", Daily), "*.json", SearchOption.AllDirectories).ShouldNotBeEmpty();
    }

    // ---- 6. configuration and CLI errors ------------------------------------------------------------------------

    [Fact]
    public async Task Validate_SeveralMistakes_AllReportedInFileOrderWithPositionsAndDidYouMean()
    {
        // Given a file with a misspelt top-level key, an unknown http key, a bad number and an unknown key
        using var ws = new Workspace();
        var pipeline = ws.Write("bad.yaml", """
            name: many-errors
            source:
              type: files
              path: ./drop
            http:
              concurency: 4
              retries: lots
            destinatons:
              - type: raw
                path: ./lake
            owner_team: x
            """);

        // When it is validated
        var validate = await IngotProcess.RunAsync(ws.Dir, null, "validate", pipeline);

        // Then every mistake is reported, in file order, each with file:line:col
        validate.ExitCode.ShouldBe(2);
        ErrorLines(validate).ShouldBe([
            $"error: {pipeline}:6:3: http.concurency: unknown key (did you mean concurrency?)",
            $"error: {pipeline}:7:12: expected a whole number, found 'lots'",
            $"error: {pipeline}:8:1: destinatons: unknown key (did you mean destinations?)",
            $"error: {pipeline}:11:1: owner_team: unknown key",
        ]);
    }

    [Theory]
    [InlineData("abc", "ingot: --concurrency: 'abc' is not a whole number")]
    [InlineData("1001", "ingot: --concurrency: 1001 is out of range (1..1000)")]
    [InlineData("0", "ingot: --concurrency: 0 is out of range (1..1000)")]
    public async Task Run_ConcurrencyOutOfTheYamlRangeOrNotANumber_SaidInWords_Exit2_NoRequest(string value, string expected)
    {
        // Given
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("p.yaml", Pipeline(sim));

        // When
        var run = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline, "--concurrency", value);

        // Then
        run.ExitCode.ShouldBe(2);
        ErrorLines(run)[0].ShouldBe(expected);
        run.Stderr.ShouldNotContain("System.");
        sim.Requests.Count.ShouldBe(0);
    }

    // ---- 7. leftovers -------------------------------------------------------------------------------------------

    [Fact]
    public async Task Run_EmptyTempFoldersLeftByACrash_AreRemovedAtStart()
    {
        // Given a landed lake with the empty scratch folders a crashed run leaves (Parquet's _tmp/<guid>/…, raw's _tmp/)
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var pipeline = ws.Write("p.yaml", Pipeline(sim, destinations: "  - type: raw\n    path: ./lake\n  - type: parquet\n    path: ./lake\n"));
        (await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline)).ExitCode.ShouldBe(0);
        var leftovers = new[]
        {
            Path.Combine(ws.Lake, "knmi-fail", Daily, "_tmp", Guid.NewGuid().ToString("N"), "__file=0"),
            Path.Combine(ws.Lake, "knmi-fail", "raw", Daily, "_tmp", Guid.NewGuid().ToString("N")),
        };
        foreach (var d in leftovers) Directory.CreateDirectory(d);

        // When it runs again
        (await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline)).ExitCode.ShouldBe(0);

        // Then no _tmp folder is left anywhere under the lake
        Directory.EnumerateDirectories(ws.Lake, "_tmp", SearchOption.AllDirectories).ShouldBeEmpty();
    }

    /// <summary>A small tmpfs (root only, as the tests run here) to fill a disk for real; unmounted on dispose.</summary>
    private sealed class Tmpfs : IDisposable
    {
        private Tmpfs(string dir) => Dir = dir;

        public string Dir { get; }

        public static Tmpfs Mount(string dir, long size, long free)
        {
            Directory.CreateDirectory(dir);
            Exec("mount", "-t", "tmpfs", "-o", $"size={size}", "tmpfs", dir);
            var disk = new Tmpfs(dir);
            // Fill it to leave `free` bytes (a whole page at least: tmpfs counts pages).
            using var fill = new FileStream(Path.Combine(dir, "fill"), FileMode.Create);
            var chunk = new byte[4096];
            try
            {
                for (long written = 0; written < size - free; written += chunk.Length) fill.Write(chunk);
                fill.Flush();
            }
            catch (IOException)
            {
                // full: that is what a free of 0 asks for
            }
            return disk;
        }

        private static void Exec(string file, params string[] args)
        {
            using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true })!;
            var err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            p.ExitCode.ShouldBe(0, $"{file} {string.Join(' ', args)}: {err} (these tests mount a tmpfs and run as root)");
        }

        public void Dispose()
        {
            try
            {
                Exec("umount", "-l", Dir);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // the workspace removal reports what is left
            }
        }
    }
}
