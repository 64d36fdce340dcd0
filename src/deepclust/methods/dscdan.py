"""DSCDAN: Deep Spectral Clustering using Dual Autoencoder Network (Yang et al., CVPR 2019).

Stages, each a ``train.run_epochs`` loop with its own checkpoint:

1. ``pretrain`` — the dual autoencoder (paper §3.1, Eq. 13): reconstruction from the code and
   from its noisy version, global and local mutual information with trained critics, KL prior.
2. ``spectral`` — the deep spectral network (§3.2) on the cached codes: kNN Gaussian affinity
   per batch, orthonormalised output, spectral loss. Cheap: no image passes the encoder.
3. ``joint`` — everything together (Eq. 20), the N(0, I) prior replaced by the mixture prior
   whose components follow the spectral output (the KL "unify" term, Eq. 19).
4. ``self_label`` (ours, images by default) — the clusters of k-means on Y become the
   components N(c_k, I) of that mixture prior in the code space, and the encoder learns to
   put each randomly shifted and rotated image into its cluster's component, the labels read
   again from its own posterior a few times (``methods.self_labelling``).

Labels: k-means on the spectral embedding Y (or the argmax of p(y|x)), then with
``self_label`` each code's nearest mean c_k; ``predict`` embeds new samples with the stored
networks (and orthonormalisation weights) and takes the nearest fitted centre, so it
reproduces ``labels_`` on the training data. Equations, and where the official code departs
from the paper: ``../shared/docs/method-spec.md`` §A, §C, §E.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from .._shards import gather
from ..exceptions import DeepclustError
from ..losses import (
    jsd_mi_loss,
    kl_mixture,
    kl_normal,
    kl_to_uniform,
    reconstruction_loss,
    relative_reconstruction_loss,
    shuffle_batch,
    spectral_loss,
)
from ..nets import (
    GlobalCritic,
    LocalCritic,
    build_autoencoder,
    conv_config,
    noisy_transform,
)
from ..train import place_module
from .deep import DEEP_FITTED, DeepClusterer, code_size, hidden_sizes
from .self_labelling import SelfLabellingMixin
from .spectral_stage import SpectralStageMixin, eigenvector_loss

# Ablation rows of the paper's Table 4; "full" is DSCDAN as published (the spectral loss on each
# batch's kNN graph, K outputs, k-means on Y itself).
# MI is global + local (paper Eq. 10) with the KL prior term, RS the noisy reconstruction and
# relative loss, SN the spectral network; the rows without SN cluster the codes with k-means.
_MI = {"w_mi_global": 0.1, "w_mi_local": 0.1, "self_label": False}
_NO_MI = {"w_mi_global": 0.0, "w_mi_local": 0.0, "w_kl": 0.0, "self_label": False}
VARIANTS: dict[str, dict[str, Any]] = {
    "convae": {**_NO_MI, "w_rel": 0.0, "spectral": False},
    "convae+mi": {**_MI, "w_rel": 0.0, "spectral": False},
    # ours: without the KL prior the learned noise variance would shrink to 0 and the relative
    # loss with it, so +RS alone uses the paper's fixed multiplicative noise
    "convae+rs": {**_NO_MI, "noise": "mult", "spectral": False},
    "convae+mi+rs": {**_MI, "spectral": False},
    "full": {**_MI, "normalize_rows": False, "spectral_solver": "batch",
             "spectral_dim": "n_clusters"},
}
# the networks' sizes when "auto": the paper's for images, sized from the input for vectors
SIZES: dict[str, Any] = {"latent_dim": code_size(120), "mlp_hidden": hidden_sizes((256, 256, 512))}
# ours: batches of the "auto" pretraining on images before the exact solver (class docstring)
EXACT_PRETRAIN_BATCHES = 1000
# Schedules: "cpu" is the class default; "paper" follows method-spec §E.7 ([C19] pretraining:
# 100 epochs of batch 100; joint: up to 500 epochs x 10 batches of 1024 as the official code).
SCHEDULES: dict[str, dict[str, Any]] = {
    "cpu": {},
    "paper": {"pretrain_epochs": 100, "spectral_epochs": 400, "joint_epochs": 500,
              "batch_size": 100},
}


class DSCDAN(SelfLabellingMixin, SpectralStageMixin, DeepClusterer):
    """Deep spectral clustering with a dual autoencoder (Yang et al., CVPR 2019).

    Source tags: paper = the CVPR paper; code = the official TF1 code; spec = the recommended
    resolution in method-spec §E where the two disagree or the paper's values were lost; ours =
    our choice, with the reason.

    Parameters
    ----------
    n_clusters : number of clusters K, or ``"auto"``: K estimated from the eigengap of the
        neighbour graph of the codes after pretraining (``graph.estimate_n_clusters``), at
        most ``k_max``; the estimate is ``n_clusters_``, the Laplacian's eigenvalues
        ``eigenvalues_``.
    k_max : the largest K that ``n_clusters="auto"`` considers (20, ours).
    latent_dim : code size; ``"auto"``: 120 for images (paper §4.3 and code), at most the
        number of features for vectors (ours, ``methods.deep.code_size``). Used: ``latent_dim_``.
    architecture : ``"auto"`` (convs for images of at least 16×16, an MLP for vectors and
        smaller images), ``"conv"`` or ``"mlp"``.
    scaling : how the input is scaled and reconstructed, ``"auto"``, ``"unit"`` or
        ``"standard"`` (ours; see ``methods.deep.choose_scaling``): ``"auto"`` keeps images
        in [0, 1] with a sigmoid decoder and standardises feature vectors with a linear one.
        The choice made is ``scaling_``.
    encoder, decoder : optional user modules replacing the built ones; the encoder must return
        ``nets.EncoderOutput`` (mu, logvar, feature_map or None, features) and expose
        ``features_dim`` and ``feature_map_shape``. Such a model fits and predicts but cannot
        be ``save``d (save their weights with ``torch.save``).
    conv_width : channel multiplier of the paper's Table-2 convs (1, paper; 2 = code's widths).
    mlp_hidden : hidden sizes of that MLP encoder, mirrored by the decoder; ``"auto"``:
        256-256-512 (ours: 4-5x cheaper on a CPU than DEC/N2D's 500-500-2000 and no worse on
        digits in our runs), narrower for vectors of under 64 features (ours,
        ``methods.deep.hidden_sizes``). Used: ``mlp_hidden_``.
    noise : noisy transformer ψ, ``"reparam"`` (code; spec §E.3) or ``"mult"`` (paper:
        multiplicative Gaussian noise ``z(1 + s·ε)``), ``noise_scale`` s = 0.5 (spec, [inf]).
    recon_target : what is compared with x: ``"clean"`` g(mu) (paper Eq. 11; spec §E.2) or
        ``"noisy"`` g(z̃) (code).
    w_rec, w_rel : weights of the reconstruction and relative reconstruction losses (5 and 2.5,
        code: 5·R₁ and 5·½R₂; the paper's α..δ were lost, spec §E.1).
    w_mi_global, w_mi_local : weights of the global and local MI terms with trained critics
        (paper Eq. 10; ours: 0.1 — the code's 0.001 on an untrained critic does nothing, DIM's
        own 0.5/1.5 are set against no reconstruction term). Local MI is off by default (ours:
        it doubles the cost of pretraining on a CPU; the official code has none); the
        ``preset`` variants with MI turn it on.
    w_kl : weight of the KL prior term, N(0, I) in pretraining, the mixture in joint training
        (ours: 0.1; the code's 1.5 outweighs a small image's reconstruction sum: on digits
        3 seeds gave ACC 0.831 with 0.1 against about 0.80 with 1.5, and mnist-test was the same
        in one run). w_entropy: weight of KL(p(y|x) || uniform) in joint training (1, code).
    w_spectral : weight of the spectral loss in joint training (1, code).
    n_neighbors : genuine kNN neighbours in the affinity; ``"auto"``: 3 for images (paper
        §4.3), 10 for feature vectors (ours, below).
    affinity_scale : Gaussian width σ; None = median distance to the nearest other point in
        each batch (SpectralNet rule, spec §E.5); ``"local"`` = self-tuning σ_i σ_j (see
        ``graph.knn_affinity``); ``"auto"``: None for images, ``"local"`` for vectors (ours).
        Feature vectors also skip the joint stage in the "auto" schedule (ours). Measured on
        the wine vectors (178 samples, K = 3; k-means 0.95 ACC): the image settings 0.93 and
        0.61 on seeds 0 and 1 (seed 1: k-means on the codes 0.92, after the spectral stage
        0.78, after the joint stage 0.61); 10 local neighbours on seeds 0-2 without joint
        0.944 / 0.916 / 0.949, with joint 0.904 / 0.826 / 0.949; on 20-topic tf-idf (seed 0)
        0.724 against 0.728 with the image settings. The values used are ``n_neighbors_`` and
        ``affinity_scale_``.
    spectral_solver : how the spectral network learns the graph's eigenvectors (ours;
        ``SpectralStageMixin``): ``"batch"`` (paper, SpectralNet: the spectral loss on the kNN
        graph of each random batch), ``"neighbors"`` (that loss on batches holding each
        anchor's neighbours in one graph of all the codes), ``"exact"`` (the leading
        eigenvectors of that global graph by Lanczos, learned by the network with squared
        error, which then embeds new samples; in the joint stage the same squared error
        replaces the spectral loss). ``"auto"``: ``"exact"`` for images, ``"batch"`` for
        feature vectors. Used: ``spectral_solver_``. Measured on the codes of one DSCDAN
        pretraining (seed 0), k-means on the row-normalised eigenvectors of the 3-NN graph:
        usps 0.954 ACC with the exact eigenvectors, against 0.77 for the spectral network
        trained on batches (0.81 on neighbour batches, 0.81 after 1,500 batches instead of
        300), and the network learns the exact ones to 0.959; on feature vectors the exact
        eigenvectors lost (blobs 0.73, wine 0.92, topics 0.84, against 0.95 / 0.95 / 0.82 for
        the batch solver's five-seed means).
    spectral_dim : outputs of the spectral network: an integer ≥ K, ``"n_clusters"`` (K,
        paper) or ``"auto"``: 2K for the exact solver on images, else K (ours). With more
        than K, ``n_eigenvectors_`` is the count m in K..``spectral_dim_`` whose k-means
        partition of Y's first m columns has the lowest normalised cut on the global graph
        (``normalized_cuts_`` holds each). Measured as above: mnist-test 0.810 ACC with K
        eigenvectors, 0.953 with the 13 the cut chose (0.95 for any of 13-20); usps, another
        pretraining, 0.820 with K, 0.958 with the cut's 14; digits 0.948 with K, 0.851 with
        the cut's 12; fashion-test: K chosen, 0.585 (0.58-0.64 over 10-20). The joint
        stage's mixture prior has one component per output; ``assign="argmax"`` needs K.
    spectral : train the spectral network (False = the ablations' k-means on the codes).
    spectral_hidden : hidden sizes of the spectral network (1024-1024-512, code/SpectralNet;
        paper: four fully connected layers).
    assign : ``"kmeans"`` on Y (spec §E.6, SpectralNet) or ``"argmax"`` of p(y|x) (code); with
        ``self_label``, how the clusters the stage starts from are found.
    self_label : the stage ``self_label`` after the joint stage (ours,
        ``methods.self_labelling``): True, False or ``"auto"`` (images: True; feature vectors,
        which have no augmentation to learn from: False). The labels are then each code's
        nearest cluster mean c_k, ``cluster_centers_`` those means and ``transform`` the codes
        mu (``label_space_`` is ``"codes"``; else ``"spectral"``: Y). Measured on the
        default fits' labels (seed: ACC before → after; one-off script, Intel Xeon, 2 cores):
        mnist-test 0: 0.951 → 0.980, 1: 0.958 → 0.979, 2: 0.962 → 0.984; usps 0: 0.957 →
        0.980, 1: 0.957 → 0.979; fashion-test 0: 0.620 → 0.615, 1: 0.562 → 0.544 (there
        the clusters, not their borders, are wrong: trousers split in two, pullovers and coats
        merged); digits 0: 0.945 → 0.962. The stage costs about 30 s on 10,000 images (the
        encoder alone, no decoder). Used: ``self_label_``.
    label_smoothing : the self-labelling cross-entropy's label smoothing (0.2, ours: a student
        that cannot fit its teacher's labels exactly corrects some of them; mnist-test seed
        0, a linear classifier on the codes in place of the mixture, 30 epochs: 0.967 ACC at
        0, 0.970 at 0.1, 0.971 at 0.2 and 0.4).
    normalize_rows : k-means on the rows of Y scaled to unit length (True; ours, after Ng,
        Jordan & Weiss 2002; the paper and SpectralNet cluster Y itself, as ``preset("full")``
        does). Measured as k-means (10 starts) on the same fitted networks' Y, seed 0:
        20-topic tf-idf 0.713 → 0.841 ACC, mnist-test 0.757 → 0.772, usps 0.752 → 0.771;
        wine, seeds 0-4: 0.910 → 0.908.
    pretrain_epochs, spectral_epochs, joint_epochs : stage lengths in epochs, or ``"auto"``
        (ours, the CPU schedule): about 1,500 pretraining batches, 300 spectral batches and 20
        joint batches whatever the data size (15 / 30 / 2 epochs on 10,000 samples; feature
        vectors skip the joint stage, images pretrain shorter: below), so small
        data sets are not under-trained; pretraining is where the compute pays. But it is
        never longer than the paper's 100 epochs: 1,500 batches are 750 epochs of the 150
        iris samples, and that long a pretraining spoils the codes for the spectral step
        (5 seeds, ACC after 50 / 75 / 100 / 150 / 200 / 750 epochs: iris 0.917 / 0.912 /
        0.897 / 0.605 / 0.547 / 0.707, k-means 0.887; wine 0.944 / 0.949 / 0.951 / – /
        0.946 / 0.952; breast cancer after 50 / 100 / 250: 0.949 / 0.945 / 0.942). On images
        before the exact solver (their default) the pretraining is 1,000 batches: that
        solver takes the codes' 3-NN graph, and the share of each code's 3 nearest codes in
        its own class peaks or levels off by then (seed 0, after 10 / 15 epochs of
        100-image batches: mnist-test 0.963 / 0.961, its best at 10; fashion-test 0.815 /
        0.817; usps after 14 / 21 epochs 0.958 / 0.954, its best 0.967 at 3). 5 seeds, ACC
        with 1,500 → 1,000 batches: mnist-test 0.982 → 0.981, usps 0.950 → 0.979,
        fashion-test 0.605 → 0.587 (3 seeds of digits: 0.941 → 0.955), in 0.7× the time.
        ``DSCDAN.preset(schedule="paper")`` gives 100 / 400 / 500 epochs.
        self_label_epochs: the stage ``self_label``'s epochs (batches of 256), or ``"auto"``:
        1,200 batches, at most 30 epochs (ours: digits seed 0, 0.962 ACC after 30 epochs and
        0.954 after 150).
    batch_size : pretraining batch (100, [C19]); spectral_batch_size: spectral and joint batch
        (1024, code). lr: Adam learning rate for every stage (1e-3, code).
    random_state, device, precision, verbose : as every deep estimator (``DeepClusterer``).
        checkpoint_dir: where each stage's checkpoint is written (None = none);
        ``fit(X, resume=True)`` continues from them.
    """

    # ours: batches per stage of the "auto" (CPU) schedule, see the class docstring
    auto_batches: ClassVar[dict[str, int]] = {"pretrain": 1500, "spectral": 300, "joint": 20,
                                              "self_label": 1200}
    # ours: the "auto" pretraining stops at the paper's 100 epochs (class docstring)
    auto_max_epochs: ClassVar[dict[str, int]] = {
        **SelfLabellingMixin.auto_max_epochs,
        "pretrain": SCHEDULES["paper"]["pretrain_epochs"]}
    # ``DSCDAN.preset(variant, schedule, **params)``: a row of Table 4 on a schedule
    variants: ClassVar[dict[str, dict[str, Any]]] = VARIANTS
    # "auto" parameters by input kind (see the class docstring)
    auto_params: ClassVar[dict[str, dict[str, Any]]] = {
        "unit": {"n_neighbors": 3, "affinity_scale": None,  # paper, spec §E.5
                 "spectral_solver": "exact", **SIZES},      # ours
        "standard": {"n_neighbors": 10, "affinity_scale": "local",  # ours
                     "spectral_solver": "batch", **SIZES},          # paper
    }
    schedules: ClassVar[dict[str, dict[str, Any]]] = SCHEDULES
    _estimates_clusters: ClassVar[bool] = True
    _fitted_attrs: ClassVar[tuple[str, ...]] = (*DEEP_FITTED, "head_", "n_neighbors_",
                                                "affinity_scale_", "latent_dim_", "mlp_hidden_",
                                                "spectral_solver_", "spectral_dim_",
                                                "n_eigenvectors_", "eigenvalues_",
                                                "self_label_", "label_space_")

    def __init__(
        self,
        n_clusters: int | str = 10,
        *,
        k_max: int = 20,
        latent_dim: int | str = "auto",
        architecture: str = "auto",
        scaling: str = "auto",
        encoder: nn.Module | None = None,
        decoder: nn.Module | None = None,
        conv_width: int = 1,
        mlp_hidden: tuple[int, ...] | str = "auto",
        noise: str = "reparam",
        noise_scale: float = 0.5,
        recon_target: str = "clean",
        w_rec: float = 5.0,
        w_rel: float = 2.5,
        w_mi_global: float = 0.1,
        w_mi_local: float = 0.0,
        w_kl: float = 0.1,
        w_entropy: float = 1.0,
        w_spectral: float = 1.0,
        n_neighbors: int | str = "auto",
        affinity_scale: float | str | None = "auto",
        spectral_solver: str = "auto",
        spectral_dim: int | str = "auto",
        spectral: bool = True,
        spectral_hidden: tuple[int, ...] = (1024, 1024, 512),
        assign: str = "kmeans",
        normalize_rows: bool = True,
        self_label: bool | str = "auto",
        label_smoothing: float = 0.2,
        pretrain_epochs: int | str = "auto",
        spectral_epochs: int | str = "auto",
        joint_epochs: int | str = "auto",
        self_label_epochs: int | str = "auto",
        batch_size: int = 100,
        spectral_batch_size: int = 1024,
        lr: float = 1e-3,
        random_state: int | None = 0,
        device: str = "auto",
        precision: str = "fp32",
        verbose: int = 1,
        checkpoint_dir: str | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.k_max = k_max
        self.latent_dim = latent_dim
        self.architecture = architecture
        self.scaling = scaling
        self.encoder = encoder
        self.decoder = decoder
        self.conv_width = conv_width
        self.mlp_hidden = mlp_hidden
        self.noise = noise
        self.noise_scale = noise_scale
        self.recon_target = recon_target
        self.w_rec = w_rec
        self.w_rel = w_rel
        self.w_mi_global = w_mi_global
        self.w_mi_local = w_mi_local
        self.w_kl = w_kl
        self.w_entropy = w_entropy
        self.w_spectral = w_spectral
        self.n_neighbors = n_neighbors
        self.affinity_scale = affinity_scale
        self.spectral_solver = spectral_solver
        self.spectral_dim = spectral_dim
        self.spectral = spectral
        self.spectral_hidden = spectral_hidden
        self.assign = assign
        self.normalize_rows = normalize_rows
        self.self_label = self_label
        self.label_smoothing = label_smoothing
        self.pretrain_epochs = pretrain_epochs
        self.spectral_epochs = spectral_epochs
        self.joint_epochs = joint_epochs
        self.self_label_epochs = self_label_epochs
        self.batch_size = batch_size
        self.spectral_batch_size = spectral_batch_size
        self.lr = lr
        self.random_state = random_state
        self.device = device
        self.precision = precision
        self.verbose = verbose
        self.checkpoint_dir = checkpoint_dir

    # --- the method: loss terms of one batch, as in the paper --------------------------------
    def _terms(self, x: Tensor, critics: nn.ModuleDict, joint: bool,
               target: Tensor | None = None) -> dict[str, Tensor]:
        enc = self.encoder_(x)
        mu, logvar = enc.mu, enc.logvar
        t: dict[str, Tensor] = {}
        x_clean = self._decode(mu)                                            # x̄ = g(mu)
        if self.w_rel or self.recon_target == "noisy":
            z_noisy = noisy_transform(mu, logvar, self.noise, self.noise_scale)  # z̃ = ψ(z)
            x_noisy = self._decode(z_noisy)                                   # x̂ = g(z̃)
        t["rec"] = reconstruction_loss(x, x_clean if self.recon_target == "clean" else x_noisy)
        if self.w_rel:
            t["rel"] = relative_reconstruction_loss(x_clean, x_noisy)        # Eq. 12
        if "global" in critics:                                                # L_G, Eq. 10
            T1 = critics["global"]
            t["mi_global"] = jsd_mi_loss(T1(enc.features, mu), T1(shuffle_batch(enc.features), mu))
        if "local" in critics:                                                 # L_L, Eq. 10
            T2 = critics["local"]
            t["mi_local"] = jsd_mi_loss(T2(enc.feature_map, mu),
                                        T2(shuffle_batch(enc.feature_map), mu))
        if joint:                                                              # Eqs. 19-20
            out = self.head_(mu, ortho_weights="batch")
            t["spectral"] = (spectral_loss(self._affinity(gather(mu)), gather(out.y))
                             if target is None else eigenvector_loss(out.y_tilde, target))
            # paper / "exact"; gather: the whole global batch under torchrun (_shards)
            if self.w_kl:
                t["kl"] = kl_mixture(mu, logvar, out.p_y, self.means_)
            t["entropy"] = kl_to_uniform(out.p_y)
        elif self.w_kl:
            t["kl"] = kl_normal(mu, logvar)
        weights = {"rec": self.w_rec, "rel": self.w_rel, "mi_global": self.w_mi_global,
                   "mi_local": self.w_mi_local, "kl": self.w_kl, "entropy": self.w_entropy,
                   "spectral": self.w_spectral}
        t["loss"] = sum(weights[name] * term for name, term in t.items())
        return t

    # --- fitting ---------------------------------------------------------------------------------
    def _fit(self, X, y, rng, *, resume):
        X_t, watch = self._setup(X, y)
        self.label_space_ = "spectral" if self.spectral else "codes"
        critics = place_module(self._build_critics(), self.device_)
        ae = {"encoder": self.encoder_, "decoder": self.decoder_, "critics": critics}
        ae_params = [p for m in ae.values() for p in m.parameters()]
        opt = torch.optim.Adam(ae_params, lr=self.lr)
        self._stage("pretrain", self.pretrain_epochs, len(X), self.batch_size, rng, resume,
                    {**ae, "opt": opt}, lambda idx: self._ae_terms(X_t[idx], critics, False),
                    watch, embed=lambda z: z)
        self._clusters_from_codes(X_t, rng)
        if self.spectral:
            W, target = self._spectral_stage(X_t, rng, resume, watch)
            self.means_ = nn.Parameter(torch.zeros(self.spectral_dim_, self.latent_dim_,
                                                   device=self.device_))  # code: c_k = 0
            opt = torch.optim.Adam([*ae_params, *self.head_.parameters(), self.means_],
                                   lr=self.lr)
            self._stage("joint", self.joint_epochs, len(X), self.spectral_batch_size, rng, resume,
                        {**ae, "head": self.head_, "means": _ParamHolder(self.means_),
                         "opt": opt},
                        lambda idx: self._ae_terms(X_t[idx], critics, True,
                                                   None if target is None else target[idx]),
                        watch, self._head_out)
            self._store_ortho_weights(X_t, W, rng)
            del self.means_
        self._finish_self_labelled(X_t, y, rng, resume, watch, n_init=10,
                                   kmeans=self.assign == "kmeans")  # spec §E.6; ours

    def _auto_batches(self, stage: str) -> int:
        if stage == "joint" and self.scaling_ == "standard":
            return 0  # ours: feature vectors skip the joint stage (class docstring)
        if stage == "pretrain" and self.spectral and self.spectral_solver_ == "exact" and (
                self.scaling_ == "unit"):
            return EXACT_PRETRAIN_BATCHES  # ours: images (class docstring, pretrain_epochs)
        return super()._auto_batches(stage)

    def _ae_terms(self, x, critics, joint, target=None):
        self._set_mode(train=True)
        return self._terms(x.to(self.device_), critics, joint, target)

    # --- modules ---------------------------------------------------------------------------------
    def _build_modules(self) -> dict[str, nn.Module]:
        shape = self.input_shape_
        config = conv_config(shape, self.conv_width) if len(shape) == 3 else None
        encoder, decoder = build_autoencoder(shape, self.latent_dim_, kind=self.architecture,
                                              config=config, hidden=tuple(self.mlp_hidden_))
        modules = {"encoder_": self.encoder or encoder, "decoder_": self.decoder or decoder}
        if self.spectral and self.n_clusters_ is not None:  # else built once K is estimated
            modules["head_"] = self._spectral_head(self.latent_dim_)
        return modules

    def _build_critics(self) -> nn.ModuleDict:
        critics = nn.ModuleDict()
        if self.w_mi_global:
            critics["global"] = GlobalCritic(self.encoder_.features_dim, self.latent_dim_)
        if self.w_mi_local and self.encoder_.feature_map_shape is not None:
            critics["local"] = LocalCritic(self.encoder_.feature_map_shape[0], self.latent_dim_)
        return critics

    def _saved_attrs(self) -> list[str]:
        return [a for a in super()._saved_attrs()
                if a not in ("head_", "spectral_dim_", "n_eigenvectors_") or self.spectral]

    def _check_params(self) -> None:
        super()._check_params()
        self._check_choices({"architecture": ("auto", "conv", "mlp"),
                             "noise": ("reparam", "mult"), "recon_target": ("clean", "noisy"),
                             "assign": ("kmeans", "argmax")})
        if self.assign == "argmax" and not self.spectral:
            raise DeepclustError("assign='argmax' needs the spectral network (spectral=True).")
        self._check_bound(1, "batch_size", "spectral_batch_size", "latent_dim")
        self._check_bound(0, "w_rec", "w_rel", "w_mi_global", "w_mi_local", "w_kl",
                          "w_entropy", "w_spectral")
        self._check_graph_params()

    # --- inference -------------------------------------------------------------------------------
    @torch.no_grad()
    def _embed(self, X_t: Tensor) -> np.ndarray:
        codes = self._encode(X_t)
        spectral = self.label_space_ == "spectral"
        return (self._spectral_embedding(codes) if spectral else codes).cpu().numpy()

    @torch.no_grad()
    def _assign(self, X_t: Tensor, embedding: np.ndarray) -> np.ndarray:
        if self.assign == "argmax" and self.label_space_ == "spectral":  # code: argmax p(y|x)
            return self.head_.embed(self._encode(X_t)).p_y.argmax(1).cpu().numpy().astype(
                np.int64)
        return super()._assign(X_t, embedding)


class _ParamHolder(nn.Module):
    """Lets a bare parameter (the cluster means c) be checkpointed like a module."""

    def __init__(self, param: nn.Parameter) -> None:
        super().__init__()
        self.param = param

