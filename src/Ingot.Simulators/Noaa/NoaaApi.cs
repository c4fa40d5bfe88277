using Microsoft.AspNetCore.Http;

namespace Ingot.Simulators;

internal sealed class NoaaApi(SimulatorOptions options) : ISimApi
{
    public string BasePath => "/cdo-web/api/v2";
    public double DefaultRateLimit => 5;
    public long? DefaultQuota => 10_000;
    public TimeSpan QuotaWindow => TimeSpan.FromDays(1);
    public bool QuotaBeforeRateLimit => true;
    public bool EmitsRateLimitHeaders => false;
    public FaultKinds SupportedFaults => FaultKinds.All;
    public bool IsDataRequest(PathString path) => false;
    public SimResponse? CheckAuth(HttpRequest request) => request.Headers["token"].ToString() == options.ApiKey ? null : SimResponse.Text(400, "application/json", "{}");
    public SimResponse RateLimited() => throw new NotImplementedException();
    public SimResponse QuotaExceeded(long quota) => throw new NotImplementedException();
    public SimResponse Overloaded() => throw new NotImplementedException();
    public SimResponse Fault(FaultKinds kind, Random random, HttpRequest request) => throw new NotImplementedException();
    public SimResponse Handle(HttpRequest request, DateTimeOffset now) => throw new NotImplementedException();
}
