using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ingot.Simulators;

/// <summary>A running simulator (Kestrel on 127.0.0.1) for the KNMI EDR, the NOAA CDO v2 or the shop's payments and shipments APIs.</summary>
public sealed class SimulatorHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly SimPipeline _pipeline;
    private readonly ISimApi _api;

    private SimulatorHost(WebApplication app, SimPipeline pipeline, ISimApi api, Uri baseUrl)
    {
        _app = app;
        _pipeline = pipeline;
        _api = api;
        BaseUrl = baseUrl;
    }

    /// <summary>KNMI: <c>http://127.0.0.1:{port}/edr/v1</c>; NOAA: <c>http://127.0.0.1:{port}/cdo-web/api/v2</c>; shop: <c>http://127.0.0.1:{port}</c>.</summary>
    public Uri BaseUrl { get; }

    /// <summary>The shop simulator's records and clock (null for the other simulators): tick, upsert, take an API down.</summary>
    public ShopData? Shop => (_api as ShopApi)?.Data;

    /// <summary>Shop: OAuth 2.0 token requests received.</summary>
    public int TokenRequests => (_api as ShopApi)?.TokenRequests ?? 0;

    /// <summary>Snapshot of the request log in arrival order (requests still in flight are left out).</summary>
    public IReadOnlyList<SimRequest> Requests => _pipeline.Requests;

    /// <summary>Data queries received (KNMI <c>/locations/{ids}</c>, NOAA <c>/data</c>), whatever their status.</summary>
    public int DataRequestCount => _pipeline.DataRequestCount;

    /// <summary>Summed service time of the data requests (arrival to response written): what an ideal client's wall time is made of.</summary>
    public TimeSpan DataServiceTime => _pipeline.DataServiceTime;

    /// <summary>Starts a KNMI EDR simulator.</summary>
    public static Task<SimulatorHost> StartKnmiAsync(SimulatorOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return StartAsync(new KnmiApi(options), options, cancellationToken);
    }

    /// <summary>Starts a NOAA CDO v2 simulator.</summary>
    public static Task<SimulatorHost> StartNoaaAsync(SimulatorOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return StartAsync(new NoaaApi(options), options, cancellationToken);
    }

    /// <summary>Starts the shop simulator: payments (cursor pages, api key) and shipments (page numbers, bearer token or OAuth 2.0).</summary>
    public static Task<SimulatorHost> StartShopAsync(SimulatorOptions options, ShopOptions? shop = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        shop ??= new ShopOptions();
        return StartAsync(new ShopApi(options, shop, new ShopData(options.Seed, shop)), options, cancellationToken);
    }

    /// <summary>Completes when <paramref name="cancellationToken"/> is cancelled (Ctrl+C) or the host stops; does not throw on cancellation.</summary>
    public async Task WaitForShutdownAsync(CancellationToken cancellationToken)
    {
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var onStop = _app.Lifetime.ApplicationStopping.Register(() => stopped.TrySetResult());
        using var onCancel = cancellationToken.Register(() => stopped.TrySetResult());
        await stopped.Task.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await _app.StopAsync(timeout.Token).ConfigureAwait(false);
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task<SimulatorHost> StartAsync(ISimApi api, SimulatorOptions options, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [],
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = Environments.Production,
        });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, options.Port);
            kestrel.AddServerHeader = false;
        });

        var app = builder.Build();
        var pipeline = new SimPipeline(api, options);
        app.Run(pipeline.InvokeAsync);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var port = new Uri(address).Port;
        return new SimulatorHost(app, pipeline, api, new Uri($"http://127.0.0.1:{port}{api.BasePath}"));
    }
}
