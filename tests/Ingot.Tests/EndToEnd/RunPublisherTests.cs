using System.Text;
using System.Text.Json;
using Ingot.Simulators;
using Ingot.Tests.Infrastructure;

namespace Ingot.Tests.EndToEnd;

/// <summary><c>state_export</c> and <c>log_upload</c> of the built <c>ingot</c>: checkpoints.json and the run's log, on S3 and on disk.</summary>
public sealed class RunPublisherTests(S3rverFixture s3) : IClassFixture<S3rverFixture>
{
    private const string Daily = "daily-in-situ-meteorological-observations-validated";
    private const string Key = "publish-e2e-key";

    private static string PipelineFor(SimulatorHost sim, string extra) =>
        KnmiArchive.Pipeline("knmi-pub", sim.BaseUrl, Key, Daily, ["0-20000-0-06260"], ["TG"], "2000-01-02T00:00:00Z", "2000-07-02T00:00:00Z", "P1D", 60, concurrency: 2) + "\n" + extra;

    private string S3Target(string key, string path) =>
        $"{key}:\n  path: {path}\n  endpoint: {s3.Endpoint}\n  region: us-east-1\n  path_style: true\n  access_key: {s3.AccessKey}\n  secret_key: ${{TEST_S3_SECRET}}\n";

    [Fact]
    public async Task Run_StateExportAndLogUploadOnS3_WritesCheckpointsJsonAndOneLogObjectPerRun()
    {
        // Given a pipeline exporting its checkpoints and logs to a bucket
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        var root = s3.NewRoot("logs");
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim,
            S3Target("state_export", $"{root}/pipeline/ingestion/checkpoints.json") + S3Target("log_upload", $"{root}/pipeline/ingestion/")));
        var env = new Dictionary<string, string> { ["TEST_S3_SECRET"] = s3.SecretKey };

        // When it runs twice
        var first = await IngotProcess.RunAsync(ws.Dir, env, "run", pipeline);
        first.ExitCode.ShouldBe(0, first.Stdout + first.Stderr);
        var second = await IngotProcess.RunAsync(ws.Dir, env, "run", pipeline);
        second.ExitCode.ShouldBe(0, second.Stdout + second.Stderr);

        // Then checkpoints.json is exactly what status --checkpoints prints
        using var store = new Ingot.S3.S3BlobStore(root, s3.StoreOptions());
        var exported = await ReadAsync(store, "pipeline/ingestion/checkpoints.json");
        var status = await IngotProcess.RunAsync(ws.Dir, env, "status", pipeline, "--checkpoints");
        exported.Trim().ShouldBe(status.Stdout.Trim());
        using var doc = JsonDocument.Parse(exported);
        doc.RootElement.GetProperty(Daily).GetProperty("last_sync_timestamp").GetString().ShouldBe("2000-07-02T00:00:00Z");

        // And each run's log is one object holding that run's events, ending with its summary; no secret in any of them
        var objects = new List<string>();
        await foreach (var blob in store.ListAsync("pipeline/ingestion/knmi-pub/", TestContext.Current.CancellationToken)) objects.Add(blob.Path);
        objects.Count.ShouldBe(2);
        foreach (var run in new[] { first, second })
        {
            var id = run.Summary.GetProperty("run_id").GetString()!;
            var path = objects.Single(o => o.EndsWith($"/{id}.jsonl", StringComparison.Ordinal));
            var lines = (await ReadAsync(store, path)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            JsonDocument.Parse(lines[^1]).RootElement.GetProperty("msg").GetString().ShouldBe("Run complete");
            lines.ShouldAllBe(l => l.Contains(id, StringComparison.Ordinal));
            string.Join('\n', lines).ShouldNotContain(s3.SecretKey);
            string.Join('\n', lines).ShouldNotContain(Key);
        }
    }

    [Fact]
    public async Task Run_StateExportLocalRelativePath_ResolvesAgainstThePipelineFileAndIsReplacedEachRun()
    {
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        Directory.CreateDirectory(Path.Combine(ws.Dir, "conf"));
        var pipeline = ws.Write(Path.Combine("conf", "knmi.yaml"), PipelineFor(sim, "state_export: exports/checkpoints.json\n").Replace("path: ./lake", $"path: {ws.Lake}", StringComparison.Ordinal));

        var run = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        run.ExitCode.ShouldBe(0, run.Stdout + run.Stderr);
        var file = Path.Combine(ws.Dir, "conf", "exports", "checkpoints.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        doc.RootElement.GetProperty(Daily).GetProperty("record_count").GetInt64().ShouldBe(182);
        Directory.GetFiles(Path.GetDirectoryName(file)!).ShouldBe([file]); // no temp file left beside it
    }

    [Fact]
    public async Task Run_StateExportCannotBeWritten_ExitsOneWithTheReasonAndTheDataStaysCommitted()
    {
        // Given an export path under a regular file
        await using var sim = await SimulatorHost.StartKnmiAsync(new SimulatorOptions { ApiKey = Key }, TestContext.Current.CancellationToken);
        using var ws = new Workspace();
        ws.Write("blocker", "a file, not a folder");
        var pipeline = ws.Write("knmi.yaml", PipelineFor(sim, "state_export: blocker/checkpoints.json\n"));

        // When it runs
        var run = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);

        // Then the run says so and ends with 1, while every unit is landed and committed (a re-run fetches nothing)
        run.ExitCode.ShouldBe(1, run.Stdout + run.Stderr);
        run.Summary.GetProperty("status").GetString().ShouldBe("state_export_failed");
        run.Summary.GetProperty("message").GetString()!.ShouldContain("state_export failed");
        run.Summary.GetProperty("chunks_failed").GetInt32().ShouldBe(0);
        var before = sim.DataRequestCount;
        File.Delete(Path.Combine(ws.Dir, "blocker"));
        var again = await IngotProcess.RunAsync(ws.Dir, null, "run", pipeline);
        again.ExitCode.ShouldBe(0, again.Stdout + again.Stderr);
        sim.DataRequestCount.ShouldBe(before);
        File.Exists(Path.Combine(ws.Dir, "blocker", "checkpoints.json")).ShouldBeTrue();
    }

    private static async Task<string> ReadAsync(Ingot.S3.S3BlobStore store, string path)
    {
        await using var stream = (await store.OpenReadAsync(path, TestContext.Current.CancellationToken)).ShouldNotBeNull();
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadToEndAsync(TestContext.Current.CancellationToken);
    }
}
