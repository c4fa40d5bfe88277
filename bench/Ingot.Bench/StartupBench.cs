using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Ingot.Bench;

/// <summary>
/// Start-up: how long after <c>ingot run</c> starts the first request reaches the API — a loopback listener stands in for
/// it and answers nothing, so only the time to the first connection counts. Anchor in the same run: the same
/// executable's <c>--version</c> (the runtime's own start-up). Each build given (the plain build output, the ReadyToRun
/// publish of <c>scripts/quickstart.sh</c>) is measured <c>--runs</c> times; min, median and max are printed.
/// Goal (issue 10): first request within 0.3 s of process start.
/// </summary>
internal static class StartupBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var runs = args.SkipWhile(a => a != "--runs").Skip(1).Select(a => int.Parse(a, CultureInfo.InvariantCulture)).FirstOrDefault(7);
        var builds = args.Where((a, i) => i > 0 && args[i - 1] == "--ingot").ToList();
        if (builds.Count == 0)
        {
            Console.Error.WriteLine("usage: Ingot.Bench startup --ingot <path/to/ingot.dll> [--ingot <another>] [--runs N]");
            return 2;
        }
        var work = Directory.CreateTempSubdirectory("ingot-startup-").FullName;
        try
        {
            foreach (var dll in builds)
            {
                var versions = new List<double>();
                var firsts = new List<double>();
                for (var i = 0; i < runs; i++)
                {
                    versions.Add(await TimeToExitAsync(dll, work, "--version"));
                    firsts.Add(await TimeToFirstRequestAsync(dll, work));
                }
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{dll}:"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  --version (runtime start-up, anchor): {Stats.Spread(versions)}"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  run: first request after            {Stats.Spread(firsts)}  (goal <= 0.300 s); minus anchor median: {Stats.Median(firsts) - Stats.Median(versions):0.000} s"));
            }
            return 0;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task<double> TimeToExitAsync(string dll, string work, params string[] args)
    {
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(Stats.Ingot(dll, work, null, "info", args))!;
        await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        return clock.Elapsed.TotalSeconds;
    }

    private static async Task<double> TimeToFirstRequestAsync(string dll, string work)
    {
        using var api = new TcpListener(IPAddress.Loopback, 0);
        api.Start();
        var port = ((IPEndPoint)api.LocalEndpoint).Port;
        var pipeline = Path.Combine(work, $"p{port}.yaml");
        await File.WriteAllTextAsync(pipeline, $"""
            name: startup
            source:
              type: knmi-edr
              base_url: http://127.0.0.1:{port}/edr/v1
              api_key: startup-key
              collection: daily-in-situ-meteorological-observations-validated
              stations: [0-20000-0-06260]
              parameters: [TG]
              start: 2000-01-01T00:00:00Z
              end: 2000-02-01T00:00:00Z
              step: P1D
            http:
              timeout: 2s
              retries: 0
            destinations:
              - type: raw
                path: ./lake-{port}
            """);
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(Stats.Ingot(dll, work, null, "info", "run", pipeline))!;
        var stderr = p.StandardError.ReadToEndAsync();
        _ = p.StandardOutput.ReadToEndAsync();
        var accept = api.AcceptTcpClientAsync();
        if (await Task.WhenAny(accept, p.WaitForExitAsync()) != accept)
            throw new InvalidOperationException($"ingot exited with {p.ExitCode} before any request: {await stderr}");
        var first = clock.Elapsed.TotalSeconds;
        using var client = await accept;
        client.Close();
        api.Stop();
        if (!p.WaitForExit(30_000)) p.Kill(entireProcessTree: true);
        return first;
    }
}
