using Ingot.Sources;
using Ingot.Sources.Knmi;

namespace Ingot.Tests.Core.Sources.Knmi;

public sealed class KnmiPlannerTests
{
    private static DateTimeOffset T(int y, int m = 1, int d = 1, int h = 0) => new(y, m, d, h, 0, 0, TimeSpan.Zero);

    private static IReadOnlyList<string> Stations(int n) => Enumerable.Range(0, n).Select(i => $"0-20000-0-{6200 + i:00000}").ToList();

    /// <summary>stations, parameters, step (minutes), budget, start year, end year (0 = open end).</summary>
    public static TheoryData<int, int, int, long, int, int> Cases => new()
    {
        { 8, 4, 24 * 60, 300_000, 2000, 2026 },
        { 10, 4, 60, 300_000, 2015, 2025 },
        { 3, 20, 10, 300_000, 2023, 2024 },
        { 7, 3, 60, 1_000, 2020, 2021 },
        { 1, 1, 24 * 60, 10, 2020, 2021 },
        { 25, 5, 60, 50_000, 2020, 2022 },
        { 5, 4, 60, 300_000, 2020, 0 },
    };

    private static IReadOnlyList<Chunk> PlanFull(int stations, int parameters, int stepMinutes, long budget, int startYear, int endYear, out DateTimeOffset from, out DateTimeOffset to)
    {
        from = T(startYear);
        DateTimeOffset? end = endYear == 0 ? null : T(endYear);
        to = end ?? T(startYear + 3);
        return KnmiPlanner.Plan("obs", Stations(stations), parameters, TimeSpan.FromMinutes(stepMinutes), budget, from, end, from, to);
    }

    private static void ShouldCoverExactlyOnce(IReadOnlyList<Chunk> chunks, IReadOnlyList<string> stations, DateTimeOffset from, DateTimeOffset to)
    {
        foreach (var station in stations)
        {
            var windows = chunks.Where(c => c.Stations.Contains(station)).OrderBy(c => c.From).ToList();
            windows.ShouldNotBeEmpty();
            windows[0].From.ShouldBe(from, $"{station} starts late");
            windows[^1].To.ShouldBe(to, $"{station} ends early");
            for (var i = 1; i < windows.Count; i++)
                windows[i].From.ShouldBe(windows[i - 1].To, $"{station}: gap or overlap at window {i}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Plan_AnyShape_EveryChunkFitsTheBudget(int stations, int parameters, int stepMinutes, long budget, int startYear, int endYear)
    {
        // When
        var chunks = PlanFull(stations, parameters, stepMinutes, budget, startYear, endYear, out _, out _);

        // Then
        chunks.ShouldNotBeEmpty();
        foreach (var c in chunks)
        {
            var points = KnmiPlanner.Steps(c.From, c.To, TimeSpan.FromMinutes(stepMinutes)) * c.Stations.Count * parameters;
            c.DataPoints.ShouldBe(points);
            c.DataPoints.ShouldBeLessThanOrEqualTo(budget, c.Key);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Plan_AnyShape_CoversRangeOncePerStation(int stations, int parameters, int stepMinutes, long budget, int startYear, int endYear)
    {
        // When
        var chunks = PlanFull(stations, parameters, stepMinutes, budget, startYear, endYear, out var from, out var to);

        // Then
        ShouldCoverExactlyOnce(chunks, Stations(stations), from, to);
        chunks.ShouldAllBe(c => c.Stream == "obs" && c.EstimatedRequests == 1 && c.To <= c.GridTo && c.From < c.To);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Plan_SameInputs_SameUniqueSafeKeys(int stations, int parameters, int stepMinutes, long budget, int startYear, int endYear)
    {
        // When
        var first = PlanFull(stations, parameters, stepMinutes, budget, startYear, endYear, out _, out _);
        var second = PlanFull(stations, parameters, stepMinutes, budget, startYear, endYear, out _, out _);

        // Then
        first.Select(c => c.Key).ShouldBe(second.Select(c => c.Key));
        first.Select(c => c.Key).ShouldBeUnique();
        first.ShouldAllBe(c => c.Key == ChunkKeys.Safe(c.Key));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Plan_KnownRange_NoMoreRequestsThanOneStationPerRequest(int stations, int parameters, int stepMinutes, long budget, int startYear, int endYear)
    {
        // Given
        if (endYear == 0) return;
        var step = TimeSpan.FromMinutes(stepMinutes);
        var total = KnmiPlanner.Steps(T(startYear), T(endYear), step);
        var naive = stations * (long)Math.Ceiling(total / (double)(budget / parameters));

        // When
        var chunks = PlanFull(stations, parameters, stepMinutes, budget, startYear, endYear, out _, out _);

        // Then
        chunks.Count.ShouldBeLessThanOrEqualTo((int)naive);
        var lowerBound = (long)Math.Ceiling(stations * total * (double)parameters / budget);
        chunks.Count.ShouldBeGreaterThanOrEqualTo((int)lowerBound);
    }

    [Fact]
    public void Plan_TenStationsFourParametersHourlyTenYears_TwelveRequests()
    {
        // Given: 87 672 hours × 10 stations × 4 parameters = 3 506 880 points, 11.7 budgets
        var stations = Stations(10);

        // When
        var chunks = KnmiPlanner.Plan("obs", stations, 4, TimeSpan.FromHours(1), 300_000, T(2015), T(2025), T(2015), T(2025));

        // Then
        chunks.Count.ShouldBe(12);
        chunks.ShouldAllBe(c => c.Stations.Count == 10);
        var naive = 10 * (int)Math.Ceiling(87_672 / (300_000 / 4.0));
        naive.ShouldBe(20);
        chunks.Count.ShouldBeLessThan(naive);
    }

    [Fact]
    public void Plan_KnmiDailyPipeline_FewRequests()
    {
        // Given: the example pipeline: 8 stations, 4 parameters, daily, 2000-01-02..2026
        var stations = Stations(8);

        // When
        var chunks = KnmiPlanner.Plan("obs", stations, 4, TimeSpan.FromDays(1), 300_000, T(2000, 1, 2), T(2026), T(2000, 1, 2), T(2026));

        // Then: 9 496 days × 32 = 303 872 points, just over one budget
        chunks.Count.ShouldBe(2);
    }

    [Fact]
    public void Plan_SubRangeInsideConfiguredRange_SameKeysAsFullPlan()
    {
        // Given
        var stations = Stations(10);
        var step = TimeSpan.FromHours(1);
        var full = KnmiPlanner.Plan("obs", stations, 4, step, 300_000, T(2015), T(2025), T(2015), T(2025));
        var from = T(2017, 3, 15, 7);
        var to = T(2019, 8, 2, 13);

        // When
        var sub = KnmiPlanner.Plan("obs", stations, 4, step, 300_000, T(2015), T(2025), from, to);

        // Then
        sub.ShouldNotBeEmpty();
        var byKey = full.ToDictionary(c => c.Key);
        foreach (var c in sub)
        {
            var whole = byKey[c.Key];
            c.GridTo.ShouldBe(whole.GridTo);
            c.Stations.ShouldBe(whole.Stations);
            c.From.ShouldBe(whole.From > from ? whole.From : from);
            c.To.ShouldBe(whole.To < to ? whole.To : to);
        }
        ShouldCoverExactlyOnce(sub, stations, from, to);
    }

    [Fact]
    public void Plan_RangeEndingEarlierThanConfigured_KeepsGridKeys()
    {
        // Given: the configured end is open, so the shape does not depend on it
        var stations = Stations(4);
        var step = TimeSpan.FromHours(1);
        var earlier = KnmiPlanner.Plan("obs", stations, 4, step, 300_000, T(2020), null, T(2020), T(2021));

        // When
        var later = KnmiPlanner.Plan("obs", stations, 4, step, 300_000, T(2020), null, T(2020), T(2023));

        // Then: the window cut by the first range's end keeps its key in the longer range
        var laterKeys = later.Select(c => c.Key).ToHashSet();
        earlier.ShouldAllBe(c => laterKeys.Contains(c.Key));
        earlier[^1].To.ShouldBeLessThanOrEqualTo(earlier[^1].GridTo);
    }

    [Fact]
    public void Plan_EmptyRange_NoChunks()
    {
        // When
        var chunks = KnmiPlanner.Plan("obs", Stations(2), 4, TimeSpan.FromDays(1), 300_000, T(2020), T(2021), T(2020, 6), T(2020, 6));

        // Then
        chunks.ShouldBeEmpty();
    }

    [Fact]
    public void Shape_KnownRange_PrefersWholeGroupWhenItFits()
    {
        // When
        var (group, steps) = KnmiPlanner.Shape(10, 4, 300_000, 87_672);

        // Then: 12 balanced windows of ceil(87 672 / 12) steps
        group.ShouldBe(10);
        steps.ShouldBe(7_306);
    }

    [Theory]
    [InlineData(2020, 1, 1, 2020, 1, 2, 24)]
    [InlineData(2020, 1, 1, 2020, 1, 1, 0)]
    public void Steps_HourlyRange_CountsStamps(int y1, int m1, int d1, int y2, int m2, int d2, long expected)
    {
        // When
        var steps = KnmiPlanner.Steps(new DateTimeOffset(y1, m1, d1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(y2, m2, d2, 0, 0, 0, TimeSpan.Zero), TimeSpan.FromHours(1));

        // Then
        steps.ShouldBe(expected);
    }
}
