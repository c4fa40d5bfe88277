namespace Ingot.Tests.Core;

/// <summary>
/// An advanceable clock with working timers (the TimeProvider testing package is not in the mirror), so
/// <c>Task.Delay(TimeSpan, TimeProvider, CancellationToken)</c> completes when the test moves time past it.
/// Timer callbacks run on the thread that advances the clock, outside the lock.
/// </summary>
internal sealed class FakeTimeProvider(DateTimeOffset start) : TimeProvider
{
    private readonly Lock _lock = new();
    private readonly List<FakeTimer> _timers = [];
    private DateTimeOffset _now = start;

    public FakeTimeProvider() : this(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero)) { }

    public override DateTimeOffset GetUtcNow()
    {
        lock (_lock) return _now;
    }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => GetUtcNow().UtcTicks;

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    /// <summary>Timers scheduled and not yet fired or disposed.</summary>
    public int PendingTimers
    {
        get { lock (_lock) return _timers.Count(t => t.Due is not null); }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new FakeTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Moves time forward, firing every timer that falls due on the way, in due order.</summary>
    public void Advance(TimeSpan by)
    {
        DateTimeOffset target;
        lock (_lock) target = _now + by;
        while (true)
        {
            FakeTimer? next;
            lock (_lock)
            {
                next = _timers.Where(t => t.Due is { } d && d <= target).OrderBy(t => t.Due).FirstOrDefault();
                if (next is null)
                {
                    _now = target;
                    return;
                }
                _now = next.Due!.Value;
                next.Due = next.Period is { } p ? _now + p : null;
            }
            next.Fire();
        }
    }

    /// <summary>Moves time to the earliest pending timer and fires it; false when none is pending.</summary>
    public bool AdvanceToNextTimer()
    {
        DateTimeOffset? due;
        lock (_lock) due = _timers.Where(t => t.Due is not null).Min(t => t.Due);
        if (due is null) return false;
        var by = due.Value - GetUtcNow();
        Advance(by < TimeSpan.Zero ? TimeSpan.Zero : by);
        return true;
    }

    private sealed class FakeTimer(FakeTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public DateTimeOffset? Due { get; set; }
        public TimeSpan? Period { get; private set; }

        public void Fire() => callback(state);

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            var fireNow = false;
            lock (owner._lock)
            {
                if (!owner._timers.Contains(this)) owner._timers.Add(this);
                Period = period == Timeout.InfiniteTimeSpan || period <= TimeSpan.Zero ? null : period;
                if (dueTime == Timeout.InfiniteTimeSpan)
                {
                    Due = null;
                }
                else if (dueTime <= TimeSpan.Zero)
                {
                    Due = Period is { } p ? owner._now + p : null;
                    fireNow = true;
                }
                else
                {
                    Due = owner._now + dueTime;
                }
            }
            if (fireNow) Fire();
            return true;
        }

        public void Dispose()
        {
            lock (owner._lock) owner._timers.Remove(this);
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
