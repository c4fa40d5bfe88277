using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Ingot.Bench;

/// <summary>
/// Re-runs cost nothing (issue 10): a KNMI plan of <c>--units</c> one-day units (default 10,000) is landed once from
/// <c>ingot sim knmi</c> (no latency, no rate limit), then the same <c>ingot run</c> is timed <c>--runs</c> times:
/// wall time of the whole process and the data requests it made (from its summary). Anchor in the same run: the same
/// executable's <c>validate</c> of the pipeline (start-up plus reading the file, no state). Goal: ≤ 2 s, 0 requests.
/// </summary>
internal static class RerunBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        string Opt(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        var dll = Opt("--ingot", "");
        if (dll.Length == 0)
        {
            Console.Error.WriteLine("usage: Ingot.Bench rerun --ingot <path/to/ingot.dll> [--units N] [--runs N]");
            return 2;
        }
        var units = int.Parse(Opt("--units", "10000"), CultureInfo.InvariantCulture);
        var runs = int.Parse(Opt("--runs", "5"), CultureInfo.InvariantCulture);
        var work = Directory.CreateTempSubdirectory("ingot-rerun-").FullName;
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        using var sim = Process.Start(Stats.Ingot(dll, work, Path.Combine(work, ".ingot"), "error", "sim", "knmi", "--port", port.ToString(CultureInfo.InvariantCulture), "--latency", "0", "--capacity", "1000", "--rate-limit", "100000/s"))!;
        try
        {
            for (var i = 0; i < 100; i++)
            {
                try
                {
                    using var c = new TcpClient();
                    await c.ConnectAsync(IPAddress.Loopback, port);
                    break;
                }
                catch (SocketException) { await Task.Delay(100); }
            }
            var end = new DateTimeOffset(1980, 1, 1, 0, 0, 0, TimeSpan.Zero).AddDays(units); // all in the past: the plan is the same every run
            var pipeline = Path.Combine(work, "p.yaml");
            await File.WriteAllTextAsync(pipeline, $"""
                name: rerun
                source:
                  type: knmi-edr
                  base_url: http://127.0.0.1:{port}/edr/v1
                  api_key: sim-key
                  collection: daily-in-situ-meteorological-observations-validated
                  stations: [0-20000-0-06260]
                  parameters: [TG]
                  start: 1980-01-01T00:00:00Z
                  end: {end:yyyy-MM-dd'T'HH:mm:ss'Z'}
                  step: P1D
                  max_data_points: 1
                http:
                  concurrency: 32
                  retries: 10
                  backoff: 10ms..500ms
                destinations:
                  - type: raw
                    path: ./lake
                """);
            var setup = Stopwatch.StartNew();
            for (var attempt = 0; attempt < 3; attempt++)
            {
                var (exit, _, _) = await RunAsync(dll, work, "run", pipeline);
                if (exit == 0) break;
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"landed {units:N0} units in {setup.Elapsed.TotalSeconds:0.0} s (setup, not measured)"));
            var anchor = new List<double>();
            var walls = new List<double>();
            var requests = new List<long>();
            for (var i = 0; i < runs; i++)
            {
                anchor.Add((await RunAsync(dll, work, "validate", pipeline)).Seconds);
                var (exit, seconds, summary) = await RunAsync(dll, work, "run", pipeline);
                if (exit != 0) throw new InvalidOperationException($"re-run exited {exit}: {summary?.GetProperty("message")}");
                walls.Add(seconds);
                requests.Add(summary?.GetProperty("requests").GetInt64() ?? -1);
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"anchor, validate (start-up + config): {Stats.Spread(anchor)}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"re-run of {units:N0} done units:      {Stats.Spread(walls)}  (goal <= 2 s); data requests: {string.Join(", ", requests)} (goal 0)"));
            return requests.All(r => r == 0) ? 0 : 1;
        }
        finally
        {
            try { sim.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task<(int Exit, double Seconds, JsonElement? Summary)> RunAsync(string dll, string work, params string[] args)
    {
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(Stats.Ingot(dll, work, Path.Combine(work, ".ingot"), "error", args))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        var seconds = clock.Elapsed.TotalSeconds;
        await stderr;
        var last = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.Contains("\"Run complete\"", StringComparison.Ordinal));
        return (p.ExitCode, seconds, last is null ? null : JsonDocument.Parse(last).RootElement.Clone());
    }
}
