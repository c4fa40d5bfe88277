namespace Ingot.Tests.Simulators;

/// <summary>A tiny settable clock (the TimeProvider testing package is not in the mirror). Timers are not supported: use with zero latency.</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
