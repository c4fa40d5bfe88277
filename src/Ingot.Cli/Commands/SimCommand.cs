using System.CommandLine;
using System.Globalization;
using Ingot.Config;
using Ingot.Simulators;

namespace Ingot.Cli.Commands;

internal static class SimCommand
{
    public static Command Build(CliIo io)
    {
        var kind = new Argument<string>("api") { Description = "knmi, noaa or shop" };
        var port = Common.Number("--port", "port on 127.0.0.1 (0 = any free port)", 0, 65535, 8080);
        var latency = Common.Number("--latency", "base latency per request in ms", 0, 600_000, 50);
        var failRate = Common.Number("--fail-rate", "share of data requests that get an injected fault (0..1)", 0.0, 1.0, 0.0);
        var rateLimit = new Option<string?>("--rate-limit") { Description = "e.g. 200/s; over it the API's 429" };
        var seed = Common.Number("--seed", "data and fault seed", int.MinValue, int.MaxValue, 42);
        var apiKey = new Option<string>("--api-key") { Description = "the only key the simulator accepts", DefaultValueFactory = _ => "sim-key" };
        var capacity = Common.Number("--capacity", "concurrent requests served at base latency", 1, 100_000, 64);
        var quota = Common.OptionalNumber("--quota", "NOAA: requests per day; KNMI: per hour", 1L, long.MaxValue);
        var down = new Option<string?>("--down") { Description = "shop: APIs that answer 503 until POST /admin/up (payments, shipments)" };
        var command = new Command("sim", "local API simulator with fault injection") { kind, port, latency, failRate, rateLimit, seed, apiKey, capacity, quota, down };
        command.SetAction((parse, _) => Common.Guard(io, async () =>
        {
            double? rate = null;
            if (parse.GetValue(rateLimit) is { } rl)
            {
                if (!Values.TryRate(rl, out var r)) throw new ConfigException($"--rate-limit: '{rl}' is not a rate like 200/s");
                rate = r;
            }
            var fr = parse.GetValue(failRate);
            if (fr is < 0 or > 1) throw new ConfigException("--fail-rate must be between 0 and 1");
            var options = new SimulatorOptions
            {
                Port = parse.GetValue(port),
                Latency = TimeSpan.FromMilliseconds(parse.GetValue(latency)),
                FailRate = fr,
                RateLimitPerSecond = rate,
                Seed = parse.GetValue(seed),
                ApiKey = parse.GetValue(apiKey)!,
                Capacity = parse.GetValue(capacity),
                DailyQuota = parse.GetValue(quota),
            };
            var api = parse.GetValue(kind);
            if (parse.GetValue(down) is not null && api != "shop") throw new ConfigException("--down: only the shop simulator has APIs to take down");
            SimulatorHost started;
            try
            {
                started = api switch
                {
                    "knmi" => await SimulatorHost.StartKnmiAsync(options, io.Cancellation).ConfigureAwait(false),
                    "noaa" => await SimulatorHost.StartNoaaAsync(options, io.Cancellation).ConfigureAwait(false),
                    "shop" => await SimulatorHost.StartShopAsync(options, new ShopOptions { Down = DownApis(parse.GetValue(down)) }, io.Cancellation).ConfigureAwait(false),
                    var other => throw new ConfigException($"sim: unknown API '{other}' (knmi, noaa, shop)"),
                };
            }
            catch (IOException e) when (AddressInUse(e))
            {
                throw new ConfigException($"--port {options.Port}: the port is already in use on 127.0.0.1; choose another, or --port 0 for any free port");
            }
            await using var host = started;
            await io.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{parse.GetValue(kind)} simulator listening on {host.BaseUrl} (key '{options.ApiKey}', latency {options.Latency.TotalMilliseconds}ms, fail rate {options.FailRate}); Ctrl+C to stop")).ConfigureAwait(false);
            if (host.Shop is not null)
                await io.Out.WriteLineAsync("  GET /v1/payments (x-api-key; since, cursor, limit) · GET /v1/shipments (Bearer <key> or a token from POST /oauth/token, client sim-client; since, page, per_page) · POST /admin/tick?minutes=60&updates=10&inserts=2 · POST /admin/down|up?api=payments · GET /admin/state").ConfigureAwait(false);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(io.Cancellation);
            Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
            try
            {
                await host.WaitForShutdownAsync(stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
            return 0;
        }));
        return command;
    }

    private static List<ShopApiKind> DownApis(string? text)
    {
        var list = new List<ShopApiKind>();
        foreach (var name in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Enum.TryParse<ShopApiKind>(name, ignoreCase: true, out var api) || !Enum.IsDefined(api)) throw new ConfigException($"--down: '{name}' is not payments or shipments");
            list.Add(api);
        }
        return list;
    }

    /// <summary>Kestrel reports a taken port as an IOException around the socket's own error.</summary>
    private static bool AddressInUse(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
        {
            if (x is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.AddressAlreadyInUse }) return true;
        }
        return false;
    }
}
