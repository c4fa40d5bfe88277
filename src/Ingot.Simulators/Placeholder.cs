namespace Ingot.Simulators; internal static class Placeholder { }
