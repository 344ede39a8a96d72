#if canImport(Glibc)
import Glibc
#endif
import DeepCore

/// The chain of modules running on the calling thread, outermost first, so that shape errors can
/// name the module path (`layer3.1.conv2`) and summaries can record each module's output.
enum ModuleScope {
    final class Stack {
        var modules: [Module] = []
        /// Called before each module's forward with the stack (the module last) and its inputs.
        var willRun: ((Stack, [Tensor]) -> Void)?
        /// Called after each module's forward with the stack (the module last) and its outputs.
        var didRun: ((Stack, [Tensor]) -> Void)?
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, { raw in if let raw { Unmanaged<Stack>.fromOpaque(raw).release() } })
        return key
    }()

    /// This thread's stack.
    static var current: Stack {
        if let raw = pthread_getspecific(key) { return Unmanaged<Stack>.fromOpaque(raw).takeUnretainedValue() }
        let stack = Stack()
        pthread_setspecific(key, Unmanaged.passRetained(stack).toOpaque())
        installContext
        return stack
    }

    /// Whether something records each module's inputs and outputs on this thread (a summary):
    /// then modules run one by one, none fused with the next.
    static var isObserved: Bool {
        let stack = current
        return stack.willRun != nil || stack.didRun != nil
    }

    /// Hooks the module path into DeepCore's shape-error messages, once.
    private static let installContext: Void = {
        ShapeErrors.contextDescription = { ModuleScope.currentPath }
    }()

    /// Runs `body` as `module`'s forward on `inputs`, whatever their number: the module is on the
    /// stack while `body` runs (errors name its path), and summaries see its inputs and
    /// `outputs(result)`. Returns nil without running `body` after a recorded shape failure on
    /// shape-only inputs (nothing more is worth computing; the caller returns a placeholder).
    ///
    /// A module that calls itself through another of its signatures (a one-input `forward` that
    /// calls the module's multi-input call) is entered once.
    @inline(__always)
    static func run<Inputs: Collection<Tensor>, Output>(_ module: Module, inputs: Inputs,
                                                       outputs: (Output) -> [Tensor],
                                                       _ body: () -> Output) -> Output? {
        if inputs.contains(where: \.isMeta) && ShapeErrors.hasRecordedFailure { return nil }
        let stack = current
        if stack.modules.last === module { return body() }
        stack.modules.append(module)
        defer { stack.modules.removeLast() }
        stack.willRun?(stack, Array(inputs))
        let output = body()
        stack.didRun?(stack, outputs(output))
        return output
    }

    /// Runs `body` as `module`'s one-input forward; see ``run(_:inputs:outputs:_:)``.
    @inline(__always)
    static func run(_ module: Module, input: Tensor, _ body: () -> Tensor) -> Tensor {
        run(module, inputs: CollectionOfOne(input), outputs: { [$0] }, body) ?? input
    }

    /// The dotted path of the running module from the outermost running one, with type names:
    /// `ResNet → layer3.1 (BasicBlock) → conv2 (Conv2d)` rendered as `layer3.1.conv2 (Conv2d)`.
    static var currentPath: String? {
        let modules = current.modules
        guard let last = modules.last else { return nil }
        return path(of: modules) + " (\(last.typeName))"
    }

    /// Dotted names of each module in `modules` within the one before it.
    static func path(of modules: [Module]) -> String {
        guard modules.count > 1 else { return modules.first.map { "<root \($0.typeName)>" } ?? "" }
        var names: [String] = []
        for (parent, child) in zip(modules, modules.dropFirst()) {
            // A direct child is the common case; search deeper only for modules that call a
            // grandchild themselves.
            let name = parent.namedChildren().first { $0.1 === child }?.0
                ?? parent.namedModules().first { $0.1 === child }?.0
            names.append(name ?? "<\(child.typeName)>")
        }
        return names.joined(separator: ".")
    }
}
