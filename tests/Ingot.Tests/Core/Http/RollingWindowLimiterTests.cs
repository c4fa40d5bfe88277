using Ingot.Http;

namespace Ingot.Tests.Core.Http;

public sealed class RollingWindowLimiterTests
{
    private readonly FakeTimeProvider _clock = new();

    /// <summary>
    /// Completes <paramref name="work"/> by moving the fake clock to the next timer only when the limiter is
    /// quiet (no continuation in flight), so every start is recorded at the instant the limiter allowed it.
    /// </summary>
    private async Task DriveAsync(Task work, Func<int> progress)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!work.IsCompleted)
        {
            DateTime.UtcNow.ShouldBeLessThan(deadline, "the limiter made no progress");
            var before = progress();
            await Task.Delay(15, TestContext.Current.CancellationToken);
            if (work.IsCompleted || progress() != before || _clock.PendingTimers == 0) continue;
            _clock.AdvanceToNextTimer();
        }
        await work;
    }

    private static void ShouldRespectWindow(IReadOnlyList<DateTimeOffset> starts, int permits, TimeSpan window)
    {
        var sorted = starts.Order().ToList();
        for (var i = permits; i < sorted.Count; i++)
            (sorted[i] - sorted[i - permits]).ShouldBeGreaterThanOrEqualTo(window, $"starts {i - permits}..{i} fall in one window");
    }

    [Fact]
    public async Task WaitAsync_UnderTheLimit_StartsAtOnce()
    {
        // Given
        var limiter = new RollingWindowLimiter(5, _clock);

        // When
        var waits = Enumerable.Range(0, 5).Select(_ => limiter.WaitAsync(TestContext.Current.CancellationToken)).ToList();

        // Then
        waits.ShouldAllBe(w => w.IsCompletedSuccessfully);
        _clock.PendingTimers.ShouldBe(0);
        await Task.WhenAll(waits);
    }

    [Fact]
    public async Task WaitAsync_OverTheLimit_WaitsUntilTheOldestStartLeavesTheWindow()
    {
        // Given
        var limiter = new RollingWindowLimiter(5, _clock);
        var t0 = _clock.GetUtcNow();
        for (var i = 0; i < 5; i++) await limiter.WaitAsync(TestContext.Current.CancellationToken);

        // When
        var sixth = limiter.WaitAsync(TestContext.Current.CancellationToken);
        _clock.Advance(TimeSpan.FromMilliseconds(999));
        var earlyDone = sixth.IsCompleted;
        _clock.Advance(TimeSpan.FromMilliseconds(25)); // the window plus the 20 ms arrival margin
        await sixth.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        // Then
        earlyDone.ShouldBeFalse();
        (_clock.GetUtcNow() - t0).ShouldBeGreaterThanOrEqualTo(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task WaitAsync_SequentialStarts_NoWindowHoldsMoreThanThePermits()
    {
        // Given
        var limiter = new RollingWindowLimiter(5, _clock);
        var t0 = _clock.GetUtcNow();
        var starts = new List<DateTimeOffset>();

        // When: 23 starts at 5/s need four waits of a window
        var work = Task.Run(async () =>
        {
            for (var i = 0; i < 23; i++)
            {
                await limiter.WaitAsync(TestContext.Current.CancellationToken);
                lock (starts) starts.Add(_clock.GetUtcNow());
            }
        }, TestContext.Current.CancellationToken);
        await DriveAsync(work, () => { lock (starts) return starts.Count; });

        // Then
        starts.Count.ShouldBe(23);
        ShouldRespectWindow(starts, 5, TimeSpan.FromSeconds(1));
        starts.Take(5).ShouldAllBe(s => s == t0);
        (starts[^1] - t0).ShouldBeGreaterThanOrEqualTo(TimeSpan.FromSeconds(4));
        (starts[^1] - t0).ShouldBeLessThan(TimeSpan.FromSeconds(4.1), "the limiter should not be much slower than its rate");
    }

    [Fact]
    public async Task WaitAsync_TwentyConcurrentCallers_NoWindowHoldsMoreThanThePermits()
    {
        // Given
        var limiter = new RollingWindowLimiter(5, _clock);
        var t0 = _clock.GetUtcNow();
        var starts = new List<DateTimeOffset>();

        // When
        var work = Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(async () =>
        {
            await limiter.WaitAsync(TestContext.Current.CancellationToken);
            lock (starts) starts.Add(_clock.GetUtcNow());
        }, TestContext.Current.CancellationToken)));
        await DriveAsync(work, () => { lock (starts) return starts.Count; });

        // Then
        starts.Count.ShouldBe(20);
        ShouldRespectWindow(starts, 5, TimeSpan.FromSeconds(1));
        (starts.Max() - t0).ShouldBeGreaterThanOrEqualTo(TimeSpan.FromSeconds(3));
        (starts.Max() - t0).ShouldBeLessThan(TimeSpan.FromSeconds(3.1));
    }

    [Fact]
    public async Task WaitAsync_RateBelowOnePerSecond_SpacesStartsByTheLongerWindow()
    {
        // Given: 30/m is one start per 2 s
        var limiter = new RollingWindowLimiter(0.5, _clock);
        var t0 = _clock.GetUtcNow();
        await limiter.WaitAsync(TestContext.Current.CancellationToken);

        // When
        var second = limiter.WaitAsync(TestContext.Current.CancellationToken);
        _clock.Advance(TimeSpan.FromMilliseconds(1990));
        var earlyDone = second.IsCompleted;
        _clock.Advance(TimeSpan.FromMilliseconds(60)); // the window plus its 2 % arrival margin
        await second.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        // Then
        earlyDone.ShouldBeFalse();
        (_clock.GetUtcNow() - t0).ShouldBeGreaterThanOrEqualTo(TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task WaitAsync_CancelledWhileWaiting_ThrowsAndFreesTheLimiter()
    {
        // Given
        var limiter = new RollingWindowLimiter(1, _clock);
        await limiter.WaitAsync(TestContext.Current.CancellationToken);
        using var cts = new CancellationTokenSource();
        var waiting = limiter.WaitAsync(cts.Token);

        // When
        await cts.CancelAsync();

        // Then
        await Should.ThrowAsync<OperationCanceledException>(() => waiting);
        _clock.Advance(TimeSpan.FromSeconds(2));
        await limiter.WaitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task WaitAsync_RealClock_NoRollingSecondHoldsMoreThanTheRate()
    {
        // Given: the real clock, 20/s over 60 starts from 6 workers
        var limiter = new RollingWindowLimiter(20, TimeProvider.System);
        var starts = new List<DateTimeOffset>();
        var t0 = TimeProvider.System.GetUtcNow();

        // When
        await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 10; i++)
            {
                await limiter.WaitAsync(TestContext.Current.CancellationToken);
                lock (starts) starts.Add(TimeProvider.System.GetUtcNow());
            }
        }, TestContext.Current.CancellationToken)));

        // Then: starts are stamped after the limiter lets them go, so a small slack covers scheduling delay
        starts.Count.ShouldBe(60);
        ShouldRespectWindow(starts, 20, TimeSpan.FromMilliseconds(950));
        (starts.Max() - t0).ShouldBeGreaterThanOrEqualTo(TimeSpan.FromSeconds(2));
    }

    /// <summary>A clock that only moves when told, whose timers fire at once for a due time under a millisecond (as the system's do).</summary>
    private sealed class MillisecondTimerClock : TimeProvider
    {
        private readonly List<(DateTimeOffset Due, TimerCallback Callback, object? State)> _timers = [];
        public DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        public int TimersCreated;

        public override DateTimeOffset GetUtcNow() => Now;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            TimersCreated++;
            if (dueTime < TimeSpan.FromMilliseconds(1)) ThreadPool.QueueUserWorkItem(_ => callback(state));
            else lock (_timers) _timers.Add((Now + dueTime, callback, state));
            return new NoopTimer();
        }

        public void Advance(TimeSpan by)
        {
            Now += by;
            List<(DateTimeOffset Due, TimerCallback Callback, object? State)> due;
            lock (_timers)
            {
                due = _timers.Where(t => t.Due <= Now).ToList();
                _timers.RemoveAll(t => t.Due <= Now);
            }
            foreach (var t in due) t.Callback(t.State);
        }

        private sealed class NoopTimer : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => true;
            public void Dispose() { }
            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }

    [Fact]
    public async Task WaitAsync_OldestStartLeavesWithinAMillisecond_WaitsAMillisecondInsteadOfSpinning()
    {
        // Given one start per second, and the clock half a millisecond before that start (plus the margin) leaves the window
        var clock = new MillisecondTimerClock();
        var limiter = new RollingWindowLimiter(1, clock);
        await limiter.WaitAsync(TestContext.Current.CancellationToken);
        clock.Advance(TimeSpan.FromSeconds(1) + TimeSpan.FromMilliseconds(20) - TimeSpan.FromMicroseconds(500));
        clock.TimersCreated = 0;

        // When the next caller waits (it failed with "no slot freed after 1000 waits" when the wait was shorter than the timer's resolution)
        var next = limiter.WaitAsync(TestContext.Current.CancellationToken);
        await Task.Delay(50, TestContext.Current.CancellationToken);
        next.IsCompleted.ShouldBeFalse();
        clock.Advance(TimeSpan.FromMilliseconds(1));
        await next.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);

        // Then it slept on one timer of a whole millisecond, never spinning on timers that fire at once
        clock.TimersCreated.ShouldBe(1);
    }
}
