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
        var port = new Option<int>("--port") { Description = "port on 127.0.0.1 (0 = any free port)", DefaultValueFactory = _ => 8080 };
        var latency = new Option<int>("--latency") { Description = "base latency per request in ms", DefaultValueFactory = _ => 50 };
        var failRate = new Option<double>("--fail-rate") { Description = "share of data requests that get an injected fault (0..1)" };
        var rateLimit = new Option<string?>("--rate-limit") { Description = "e.g. 200/s; over it the API's 429" };
        var seed = new Option<int>("--seed") { Description = "data and fault seed", DefaultValueFactory = _ => 42 };
        var apiKey = new Option<string>("--api-key") { Description = "the only key the simulator accepts", DefaultValueFactory = _ => "sim-key" };
        var capacity = new Option<int>("--capacity") { Description = "concurrent requests served at base latency", DefaultValueFactory = _ => 64 };
        var quota = new Option<long?>("--quota") { Description = "NOAA: requests per day; KNMI: per hour" };
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
            await using var host = api switch
            {
                "knmi" => await SimulatorHost.StartKnmiAsync(options, io.Cancellation).ConfigureAwait(false),
                "noaa" => await SimulatorHost.StartNoaaAsync(options, io.Cancellation).ConfigureAwait(false),
                "shop" => await SimulatorHost.StartShopAsync(options, new ShopOptions { Down = DownApis(parse.GetValue(down)) }, io.Cancellation).ConfigureAwait(false),
                var other => throw new ConfigException($"sim: unknown API '{other}' (knmi, noaa, shop)"),
            };
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
}
